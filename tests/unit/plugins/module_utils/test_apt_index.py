"""apt_index: Packages indexes (plain, gzip, xz) to offered versions and driver branches."""

from __future__ import annotations

import gzip
import lzma

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils.apt_index import (
    AptIndexError,
    branch_of,
    decode_index,
    offered_versions,
    parse_packages,
    upstream_of,
)

INDEX = """Package: nvidia-driver
Version: 535.216.01-1~deb12u1
Architecture: amd64

Package: nvidia-smi
Version: 535.216.01-1~deb12u1

Package: nvidia-driver
Version: 535.261.03-1
Description: multi-line
 continuation line with Version: 999.1-1 inside

Package: cuda-drivers
Version: 1:550.127.05-1
"""


def test_parse_packages_keeps_every_version_in_index_order_and_ignores_continuations():
    offered = parse_packages(INDEX)
    assert offered["nvidia-driver"] == ["535.216.01-1~deb12u1", "535.261.03-1"]
    assert offered["cuda-drivers"] == ["1:550.127.05-1"]


@pytest.mark.parametrize("pack", [lambda b: b, gzip.compress, lzma.compress], ids=["plain", "gz", "xz"])
def test_decode_index_reads_by_magic_bytes(pack):
    assert decode_index("Packages", pack(INDEX.encode())) == INDEX


def test_decode_index_names_a_broken_body():
    with pytest.raises(AptIndexError, match="Packages.xz is not a readable Packages index"):
        decode_index("Packages.xz", b"\xfd7zXZ\x00broken")


@pytest.mark.parametrize(
    ("version", "branch", "upstream"),
    [("535.261.03-1", "535", "535.261.03"), ("1:550.127.05-0ubuntu1", "550", "550.127.05"), ("560.35.03", "560", "560.35.03"), ("git", None, "git")],
)
def test_branch_and_upstream_of_a_version(version, branch, upstream):
    assert branch_of(version) == branch
    assert upstream_of(version) == upstream


def test_offered_versions_merges_indexes_and_reports_absent_packages_as_empty():
    updates = parse_packages("Package: nvidia-driver\nVersion: 550.54.14-1\n")
    versions, branches = offered_versions([parse_packages(INDEX), updates], ["nvidia-driver", "nvidia-absent"])
    assert versions == {"nvidia-driver": ["535.216.01-1~deb12u1", "535.261.03-1", "550.54.14-1"], "nvidia-absent": []}
    assert branches == {"nvidia-driver": ["535", "550"], "nvidia-absent": []}
