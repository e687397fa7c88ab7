from __future__ import annotations

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils.release_version import is_release_version


@pytest.mark.parametrize("value", ["v0.0", "v1.1", "v1.10", "v2.0.3", "v123456789.0.0"])
def test_release_versions(value):
    assert is_release_version(value)


@pytest.mark.parametrize(
    "value",
    [
        "1.1",
        "v1",
        "v1.1\n",
        "v1.1 ",
        " v1.1",
        "v01.1",
        "v1.01",
        "v1.1.01",
        "v1.1.1.1",
        "V1.1",
        "v١.١",
        "v1." + "9" * 300,
        "v1.1; rm -rf /",
        None,
        1.1,
        ["v1.1"],
        "",
    ],
)
def test_not_release_versions(value):
    assert not is_release_version(value)


@pytest.mark.parametrize("value", ["v1.1", "v01.1", "v1.1\n", "v١.١", "v1." + "9" * 40, "v2.0.3"])
def test_the_manifests_copy_of_the_rule_agrees(value):
    from ansible_collections.liveavatar.rollout.plugins.module_utils import manifest

    assert (manifest._VERSION_RE.fullmatch(value) is not None and len(value) <= 32) == is_release_version(value)
