# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image manifests through the registry's Distribution API (v2): resolve a tag to a digest, point a tag at a manifest.

The transport is a callable `request(method, url, headers, body) -> (status, headers, body)` that raises
RegistryUnreachable when no HTTP answer came, so everything here is table-tested with a fake registry.
"""

from __future__ import annotations

import json
import re

MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)
_API = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~/-]*)?")
_NAME = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class RegistryError(Exception):
    """The registry answered something a release cannot use; str() is one line naming the registry and the image."""


class RegistryUnreachable(RegistryError):
    """No HTTP answer at all (refused, timed out, TLS failed)."""


def check_reference(reference, tag_only=False):
    """A tag, or (unless tag_only) a sha256 digest; RegistryError otherwise."""
    if isinstance(reference, str) and (_TAG.fullmatch(reference) or (not tag_only and _DIGEST.fullmatch(reference))):
        return reference
    kind = "a tag" if tag_only else "a tag or a sha256 digest"
    raise RegistryError(f"{reference!r} is not {kind}")


def _platform(entry):
    platform = entry.get("platform") or {}
    return platform.get("os"), platform.get("architecture")


class Registry:
    """One registry API and one image name."""

    def __init__(self, api, name, request):
        if not isinstance(api, str) or not _API.fullmatch(api.rstrip("/")):
            raise RegistryError(f"registry API {api!r} is not an http(s) URL")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise RegistryError(f"image name {name!r} is not a repository name (lower case, '/' separated)")
        self.api, self.name, self._request = api.rstrip("/"), name, request

    def _call(self, method, reference, headers, body=None):
        url = f"{self.api}/v2/{self.name}/manifests/{check_reference(reference)}"
        try:
            status, reply_headers, reply_body = self._request(method, url, headers, body)
        except RegistryUnreachable as exc:
            raise RegistryUnreachable(f"registry {self.api} unreachable: {exc}") from None
        return status, {k.lower(): v for k, v in (reply_headers or {}).items()}, reply_body

    def _unexpected(self, method, reference, status):
        hint = " (credentials needed or refused)" if status in (401, 403) else ""
        return RegistryError(f"registry {self.api} answered HTTP {status} to {method} {self.name}:{reference}{hint}")

    def _read(self, method, reference):
        """(headers, body) of a HEAD or GET of a manifest; None on 404; RegistryError on any other status but 200."""
        status, headers, body = self._call(method, reference, {"Accept": ", ".join(MANIFEST_TYPES)})
        if status == 404:
            return None
        if status != 200:
            raise self._unexpected(method, reference, status)
        return headers, body

    def digest(self, reference):
        """The manifest digest a tag or digest resolves to, or None when the registry has no such manifest."""
        found = self._read("HEAD", reference)
        if found is None:
            return None
        digest = found[0].get("docker-content-digest", "")
        if not _DIGEST.fullmatch(digest):
            raise RegistryError(f"registry {self.api} sent no sha256 Docker-Content-Digest for {self.name}:{reference} ({digest!r})")
        return digest

    def manifest(self, reference):
        """(digest, media type, bytes) of a manifest, or None when absent."""
        found = self._read("GET", reference)
        if found is None:
            return None
        headers, body = found
        media_type = headers.get("content-type", "").split(";")[0].strip()
        if media_type not in MANIFEST_TYPES:
            raise RegistryError(f"registry {self.api} sent {self.name}:{reference} as {media_type!r}, not an image manifest")
        return headers.get("docker-content-digest", ""), media_type, body

    def labels(self, reference, platform=("linux", "amd64")):
        """The image's labels (its config blob's config.Labels), {} when it has none; None when the manifest is absent.

        An index (multi-platform) is followed to the manifest of `platform`, the one a fleet node pulls.
        """
        found = self.manifest(reference)
        if found is None:
            return None
        _digest, media_type, body = found
        manifest = self._json(body, f"manifest {self.name}:{reference}")
        if media_type.endswith("list.v2+json") or media_type.endswith("index.v1+json"):
            wanted = [m["digest"] for m in manifest.get("manifests", []) if _platform(m) == platform]
            if not wanted:
                raise RegistryError(f"registry {self.api}: {self.name}:{reference} has no {'/'.join(platform)} image")
            return self.labels(wanted[0], platform)
        config = (manifest.get("config") or {}).get("digest", "")
        if not _DIGEST.fullmatch(config):
            raise RegistryError(f"registry {self.api}: manifest {self.name}:{reference} names no sha256 config blob")
        url = f"{self.api}/v2/{self.name}/blobs/{config}"
        try:
            status, _headers, blob = self._request("GET", url, {}, None)
        except RegistryUnreachable as exc:
            raise RegistryUnreachable(f"registry {self.api} unreachable: {exc}") from None
        if status != 200:
            raise self._unexpected("GET", config, status)
        return (self._json(blob, f"config blob of {self.name}:{reference}").get("config") or {}).get("Labels") or {}

    def _json(self, body, what):
        try:
            value = json.loads(body)
        except (TypeError, ValueError):
            value = None
        if not isinstance(value, dict):
            raise RegistryError(f"registry {self.api} sent a {what} that is not a JSON object")
        return value

    def point_tag(self, tag, source, check_mode=False):
        """Point `tag` at the manifest of `source` (manifest copy); {changed, before, after}. Idempotent."""
        check_reference(tag, tag_only=True)
        found = self.manifest(source)
        if found is None:
            raise RegistryError(f"no image {self.name}:{source} in {self.api}")
        digest, media_type, body = found
        if not _DIGEST.fullmatch(digest):
            digest = source if _DIGEST.fullmatch(source) else self.digest(source)
        before = self.digest(tag)
        result = {"changed": before != digest, "before": before, "after": digest}
        if not result["changed"] or check_mode:
            return result
        status, headers, _body = self._call("PUT", tag, {"Content-Type": media_type}, body)
        if status != 201:
            raise self._unexpected("PUT", tag, status)
        written = headers.get("docker-content-digest", digest)
        if written != digest:
            raise RegistryError(f"registry {self.api} stored {self.name}:{tag} as {written}, not {digest}")
        return result
