# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A version's weights from a model store, checked against its checksum manifest before the service starts (issue 14).

The store serves `<store>/<version>/manifest.json`:
`{"version": "v1.1", "files": [{"path": "Wan2.2-S2V-14B/dit.safetensors", "sha256": "<64 hex>", "size": 123}]}`
and each file at `<store>/<version>/<path>`. The node keeps one cache directory per version. The manifest's own
sha256 names the weights in the release's bundle (with the image digest and the config commit).
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20


class ModelStoreError(ValueError):
    """A manifest or a cache that cannot be used; the message names the version and the file."""


def parse_manifest(body, version):
    """The manifest's files, each path relative and inside the version's directory; its sha256 is the weights' id."""
    try:
        manifest = json.loads(body)
    except (TypeError, ValueError):
        raise ModelStoreError(f"the {version} weights manifest is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("version") != version:
        found = manifest.get("version") if isinstance(manifest, dict) else None
        raise ModelStoreError(f"the weights manifest is for version {found!r}, not {version}")
    files = manifest.get("files")
    if not isinstance(files, list) or not files:
        raise ModelStoreError(f"the {version} weights manifest lists no file")
    seen = set()
    for entry in files:
        path = entry.get("path") if isinstance(entry, dict) else None
        normal = posixpath.normpath(path) if isinstance(path, str) and path else ""
        if not normal or normal != path or normal.startswith(("/", "../")) or normal == ".." or "\\" in path:
            raise ModelStoreError(f"the {version} weights manifest names {path!r}: paths must be relative, normalised, inside the version")
        if path in seen:
            raise ModelStoreError(f"the {version} weights manifest lists {path} twice")
        seen.add(path)
        if not isinstance(entry.get("sha256"), str) or not _SHA256.fullmatch(entry["sha256"]):
            raise ModelStoreError(f"the {version} weights manifest gives {path} no sha256")
        if not isinstance(entry.get("size"), int) or entry["size"] < 0:
            raise ModelStoreError(f"the {version} weights manifest gives {path} no size")
    raw = body if isinstance(body, bytes) else str(body).encode()
    return {"version": version, "files": files, "manifest_sha256": hashlib.sha256(raw).hexdigest()}


def file_sha256(read_chunk):
    """sha256 of a stream read through `read_chunk(n) -> bytes` (b'' at the end)."""
    digest = hashlib.sha256()
    for chunk in iter(lambda: read_chunk(_CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def plan(manifest, local):
    """What the cache lacks. `local`: {path: (size, sha256) or None when absent}. A wrong size needs no hash."""
    ok, fetch = [], []
    for entry in manifest["files"]:
        have = local.get(entry["path"])
        if have is not None and have[0] == entry["size"] and have[1] == entry["sha256"]:
            ok.append(entry["path"])
        else:
            reason = "absent" if have is None else ("size" if have[0] != entry["size"] else "checksum")
            fetch.append({"path": entry["path"], "reason": reason, "size": entry["size"], "sha256": entry["sha256"]})
    return {"ok": ok, "fetch": fetch}
