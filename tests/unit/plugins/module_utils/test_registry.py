"""The registry client against a fake Distribution API: digests, manifest copies, and one line for every failure."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils.registry import Registry, RegistryError, RegistryUnreachable, check_reference

API = "http://registry.test:5000"
V2 = "application/vnd.docker.distribution.manifest.v2+json"
BODY = b'{"schemaVersion": 2, "mediaType": "' + V2.encode() + b'"}'
DIGEST = "sha256:" + hashlib.sha256(BODY).hexdigest()


class FakeRegistry:
    """Manifests by tag and digest; `answers` overrides the status of (method, reference)."""

    def __init__(self, tags=None, answers=None, unreachable=None, media_type=V2):
        self.tags, self.answers, self.unreachable, self.media_type = dict(tags or {}), dict(answers or {}), unreachable, media_type
        self.blobs, self.calls = {DIGEST: BODY}, []

    def __call__(self, method, url, headers, body):
        self.calls.append((method, url))
        if self.unreachable:
            raise RegistryUnreachable(self.unreachable)
        reference = url.rsplit("/manifests/", 1)[1]
        if (method, reference) in self.answers:
            return self.answers[(method, reference)], {}, b""
        if method == "PUT":
            digest = "sha256:" + hashlib.sha256(body).hexdigest()
            self.blobs[digest], self.tags[reference] = body, digest
            return 201, {"Docker-Content-Digest": digest}, b""
        digest = self.tags.get(reference, reference if reference in self.blobs else None)
        if digest is None:
            return 404, {}, b""
        return 200, {"Docker-Content-Digest": digest, "Content-Type": self.media_type}, self.blobs[digest] if method == "GET" else b""


def test_a_tag_resolves_to_its_digest_and_an_absent_one_to_none():
    registry = Registry(API, "liveavatar/live-avatar", FakeRegistry(tags={"v1.1": DIGEST}))
    assert registry.digest("v1.1") == DIGEST and registry.digest("v9.9") is None and registry.digest(DIGEST) == DIGEST


def test_pointing_a_tag_copies_the_manifest_once():
    fake = FakeRegistry(tags={"v1.1": DIGEST})
    registry = Registry(API, "liveavatar/live-avatar", fake)
    assert registry.point_tag("stable", "v1.1", check_mode=True) == {"changed": True, "before": None, "after": DIGEST}
    assert "stable" not in fake.tags, "check mode writes nothing"
    assert registry.point_tag("stable", "v1.1") == {"changed": True, "before": None, "after": DIGEST}
    assert fake.tags["stable"] == DIGEST
    puts = len([c for c in fake.calls if c[0] == "PUT"])
    assert registry.point_tag("stable", DIGEST) == {"changed": False, "before": DIGEST, "after": DIGEST}
    assert len([c for c in fake.calls if c[0] == "PUT"]) == puts, "a tag already there is not written again"


@pytest.mark.parametrize(
    ("fake", "call", "message"),
    [
        (FakeRegistry(unreachable="[Errno 111] Connection refused"), lambda r: r.digest("v1.1"), f"registry {API} unreachable: [Errno 111] Connection refused"),
        (
            FakeRegistry(answers={("HEAD", "v1.1"): 401}),
            lambda r: r.digest("v1.1"),
            "answered HTTP 401 to HEAD liveavatar/live-avatar:v1.1 (credentials needed",
        ),
        (FakeRegistry(answers={("HEAD", "v1.1"): 500}), lambda r: r.digest("v1.1"), "answered HTTP 500 to HEAD"),
        (FakeRegistry(), lambda r: r.point_tag("stable", "v1.1"), f"no image liveavatar/live-avatar:v1.1 in {API}"),
        (FakeRegistry(tags={"v1.1": DIGEST}, answers={("PUT", "stable"): 405}), lambda r: r.point_tag("stable", "v1.1"), "answered HTTP 405 to PUT"),
        (FakeRegistry(tags={"v1.1": DIGEST}, media_type="text/html"), lambda r: r.point_tag("stable", "v1.1"), "as 'text/html', not an image manifest"),
        (FakeRegistry(), lambda r: r.digest("v1.1; rm -rf /"), "is not a tag or a sha256 digest"),
        (FakeRegistry(), lambda r: r.point_tag("sha256:" + "0" * 64, "v1.1"), "is not a tag"),
    ],
)
def test_every_failure_is_one_line_naming_the_registry_or_the_image(fake, call, message):
    with pytest.raises(RegistryError) as failed:
        call(Registry(API, "liveavatar/live-avatar", fake))
    assert message in str(failed.value) and "\n" not in str(failed.value)


def test_a_head_reply_without_a_digest_is_refused():
    class NoDigest(FakeRegistry):
        def __call__(self, method, url, headers, body):
            return 200, {"Content-Type": V2}, b""

    with pytest.raises(RegistryError, match="sent no sha256 Docker-Content-Digest"):
        Registry(API, "liveavatar/live-avatar", NoDigest()).digest("v1.1")


@pytest.mark.parametrize(
    ("api", "name", "message"),
    [("ftp://x", "a/b", "is not an http(s) URL"), ("http://h:5000", "A/B", "is not a repository name"), ("http://h:5000 ; id", "a", "is not an http(s) URL")],
)
def test_bad_registry_settings_are_refused(api, name, message):
    with pytest.raises(RegistryError) as refused:
        Registry(api, name, FakeRegistry())
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("reference", "ok"), [("v1.1", True), ("stable", True), ("sha256:" + "a" * 64, True), ("sha256:abc", False), ("", False), ("-x", False)]
)
def test_references(reference, ok):
    if ok:
        assert check_reference(reference) == reference
    else:
        with pytest.raises(RegistryError):
            check_reference(reference)


CONFIG = b'{"architecture": "amd64", "config": {"Labels": {"io.liveavatar.min-driver-branch": "535"}}}'
CONFIG_DIGEST = "sha256:" + hashlib.sha256(CONFIG).hexdigest()
IMAGE = json.dumps({"schemaVersion": 2, "mediaType": V2, "config": {"digest": CONFIG_DIGEST}}).encode()
IMAGE_DIGEST = "sha256:" + hashlib.sha256(IMAGE).hexdigest()
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"


class LabelRegistry(FakeRegistry):
    """Manifests as FakeRegistry, plus config blobs; an index is served with its own media type."""

    def __init__(self, manifests, blob_status=200):
        super().__init__()
        self.manifests, self.blob_status = manifests, blob_status

    def __call__(self, method, url, headers, body):
        self.calls.append((method, url))
        if "/blobs/" in url:
            return (self.blob_status, {}, CONFIG) if url.endswith(CONFIG_DIGEST) and self.blob_status == 200 else (self.blob_status, {}, b"")
        reference = url.rsplit("/manifests/", 1)[1]
        if reference not in self.manifests:
            return 404, {}, b""
        media_type, body = self.manifests[reference]
        return 200, {"Docker-Content-Digest": "sha256:" + hashlib.sha256(body).hexdigest(), "Content-Type": media_type}, body


def test_labels_come_from_the_config_blob_and_an_index_is_followed_to_linux_amd64():
    index = (
        '{"manifests": [{"digest": "sha256:' + "0" * 64 + '", "platform": {"os": "linux", "architecture": "arm64"}},'
        ' {"digest": "' + IMAGE_DIGEST + '", "platform": {"os": "linux", "architecture": "amd64"}}]}'
    ).encode()
    fake = LabelRegistry({"v1.1": (V2, IMAGE), "multi": (INDEX_TYPE, index), IMAGE_DIGEST: (V2, IMAGE)})
    registry = Registry(API, "liveavatar/live-avatar", fake)
    assert registry.labels("v1.1") == {"io.liveavatar.min-driver-branch": "535"}
    assert registry.labels("multi") == {"io.liveavatar.min-driver-branch": "535"}
    assert registry.labels("v9.9") is None


@pytest.mark.parametrize(
    ("manifests", "blob_status", "message"),
    [
        ({"v1.1": (V2, b'{"config": {}}')}, 200, "names no sha256 config blob"),
        ({"v1.1": (V2, b"not json")}, 200, "manifest liveavatar/live-avatar:v1.1 that is not a JSON object"),
        ({"v1.1": (V2, IMAGE)}, 401, "HTTP 401 to GET liveavatar/live-avatar:" + CONFIG_DIGEST + " (credentials needed or refused)"),
        ({"v1.1": (INDEX_TYPE, b'{"manifests": []}')}, 200, "has no linux/amd64 image"),
    ],
)
def test_labels_that_cannot_be_read_are_one_line(manifests, blob_status, message):
    with pytest.raises(RegistryError, match=re.escape(message)):
        Registry(API, "liveavatar/live-avatar", LabelRegistry(manifests, blob_status)).labels("v1.1")
