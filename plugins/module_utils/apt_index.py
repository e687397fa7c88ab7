# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read an apt repository's Packages index: which versions of which packages a mirror offers."""

from __future__ import annotations

import gzip
import lzma
import re

_BRANCH_RE = re.compile(r"^(?:\d+:)?(\d+)\.")


class AptIndexError(ValueError):
    """An index that cannot be read as a Packages file."""


def decode_index(name, data):
    """Text of a Packages, Packages.gz or Packages.xz body (by magic bytes, whatever the name says)."""
    try:
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        elif data[:6] == b"\xfd7zXZ\x00":
            data = lzma.decompress(data)
        return data.decode("utf-8")
    except (OSError, EOFError, lzma.LZMAError, UnicodeDecodeError) as exc:
        raise AptIndexError(f"{name} is not a readable Packages index: {exc}") from exc


def parse_packages(text):
    """Map package name -> versions in index order, from Packages stanzas."""
    offered = {}
    name = version = None
    for line in text.splitlines() + [""]:
        if not line.strip():
            if name and version:
                offered.setdefault(name, [])
                if version not in offered[name]:
                    offered[name].append(version)
            name = version = None
        elif line.startswith("Package:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("Version:"):
            version = line.split(":", 1)[1].strip()
    return offered


def branch_of(version):
    """Driver branch (major number) of a Debian version: '1:550.127.05-1' -> '550'; None if not numeric."""
    match = _BRANCH_RE.match(version or "")
    return match.group(1) if match else None


def upstream_of(version):
    """Upstream part of a Debian version, without epoch and revision: '1:535.261.03-1' -> '535.261.03'."""
    version = (version or "").split(":", 1)[-1]
    return version.rsplit("-", 1)[0] if "-" in version else version


def offered_versions(indexes, packages):
    """Per requested package, the versions found across several parsed indexes, and their branches."""
    versions = {name: [] for name in packages}
    for index in indexes:
        for name in packages:
            for version in index.get(name, []):
                if version not in versions[name]:
                    versions[name].append(version)
    branches = {name: sorted({b for b in map(branch_of, found) if b}, key=int) for name, found in versions.items()}
    return versions, branches
