#!/usr/bin/python
# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: model_weights
short_description: A version's weights from the model store into the node's per-version cache, checked against their manifest
version_added: 0.3.0
description:
  - Reads C(<store_url>/<version>/manifest.json) (C({version, files [{path, sha256, size}]})). Every file missing from
    O(dest), or of another size or checksum, is downloaded, hashed while it is written, and moved into place only when its
    sha256 is the manifest's. The service then starts on weights that are known to be the release's.
  - O(state=verified) downloads nothing and fails, naming the files, when the cache does not match. A rollback uses it to
    check that the stable weights are there before any traffic moves.
  - A file verified once is not hashed again while its size and modification time are unchanged (C(.verified.json) in O(dest)).
  - RV(manifest_sha256) names the weights in the release's bundle, beside the image digest and the configuration commit.
options:
  store_url:
    description: Base URL of the model store (one directory per version).
    type: str
    required: true
  version:
    description: The version whose weights to fetch.
    type: str
    required: true
  dest:
    description: The node's cache directory of this version's weights (mounted into the service as its checkpoint directory).
    type: path
    required: true
  state:
    description: C(present) fetches what is missing or wrong; C(verified) only checks.
    type: str
    choices: [present, verified]
    default: present
  timeout:
    description: Seconds per HTTP request.
    type: int
    default: 60
  validate_certs:
    description: Verify the store's TLS certificate.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Reads the manifest and the cache and reports what would be downloaded; nothing is written.
  diff_mode:
    support: full
    description: The files that do not match the manifest, before and after.
  idempotent:
    support: full
    description: A cache that matches its manifest is left alone.
author:
  - liveavatar.rollout maintainers (@liveavatar)
"""

EXAMPLES = r"""
- name: Fetch the candidate's weights before its container starts
  liveavatar.rollout.model_weights:
    store_url: http://registry:8081/models
    version: v1.1
    dest: /srv/liveavatar/models/v1.1

- name: Check that the stable weights are present and intact (rollback readiness)
  liveavatar.rollout.model_weights:
    store_url: http://registry:8081/models
    version: v1.0
    dest: /srv/liveavatar/models/v1.0
    state: verified
"""

RETURN = r"""
manifest_sha256:
  description: sha256 of the version's manifest, the weights' identity in the release bundle.
  returned: success
  type: str
  sample: 9b0c1e5d0e6f4a0f8f3b7d4c2a1e0f9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a39
files:
  description: How many files the manifest lists.
  returned: success
  type: int
  sample: 4
fetched:
  description: Files downloaded (or, in check mode, that would be), each with why (absent, size, checksum).
  returned: success
  type: list
  elements: dict
  sample: [{"path": "Wan2.2-S2V-14B/dit.safetensors", "reason": "absent", "size": 1024}]
bytes_fetched:
  description: Bytes downloaded.
  returned: success
  type: int
  sample: 1024
"""

import json
import os
import urllib.error

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

from ansible_collections.liveavatar.rollout.plugins.module_utils.model_store import ModelStoreError, file_sha256, parse_manifest, plan

MARKER = ".verified.json"


def _url(params, path):
    return f"{params['store_url'].rstrip('/')}/{params['version']}/{path}"


def _open(module, url):
    try:
        return open_url(url, timeout=module.params["timeout"], validate_certs=module.params["validate_certs"], follow_redirects="safe")
    except urllib.error.HTTPError as exc:
        module.fail_json(msg=f"model_weights: the model store answered HTTP {exc.code} to {url}; nothing was changed")
    except (urllib.error.URLError, OSError) as exc:
        module.fail_json(msg=f"model_weights: the model store is unreachable at {url} ({getattr(exc, 'reason', exc)}); nothing was changed")
    return None


def _local(dest, manifest, marker):
    """{path: (size, sha256) | None}; a file whose size and mtime the marker holds is not hashed again."""
    local = {}
    for entry in manifest["files"]:
        path = os.path.join(dest, entry["path"])
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            local[entry["path"]] = None
            continue
        known = marker.get(entry["path"])
        if known and known[:2] == [stat.st_size, stat.st_mtime_ns]:
            local[entry["path"]] = (stat.st_size, known[2])
        elif stat.st_size != entry["size"]:
            local[entry["path"]] = (stat.st_size, None)
        else:
            with open(path, "rb") as handle:
                local[entry["path"]] = (stat.st_size, file_sha256(handle.read))
    return local


def _fetch(module, entry, dest):
    path = os.path.join(dest, entry["path"])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    part = path + ".part"
    reply = _open(module, _url(module.params, entry["path"]))
    written = {"n": 0}
    with open(part, "wb") as out:

        def read(n):
            chunk = reply.read(n)
            out.write(chunk)
            written["n"] += len(chunk)
            return chunk

        got = file_sha256(read)
    if got != entry["sha256"] or written["n"] != entry["size"]:
        os.unlink(part)
        module.fail_json(
            msg=f"model_weights: the store sent {module.params['version']} {entry['path']} with sha256 {got} ({written['n']} bytes); "
            f"its manifest says {entry['sha256']} ({entry['size']} bytes): the store is corrupt, nothing was moved into place"
        )
    os.replace(part, path)
    return written["n"]


def main():
    module = AnsibleModule(
        argument_spec={
            "store_url": {"type": "str", "required": True},
            "version": {"type": "str", "required": True},
            "dest": {"type": "path", "required": True},
            "state": {"type": "str", "choices": ["present", "verified"], "default": "present"},
            "timeout": {"type": "int", "default": 60},
            "validate_certs": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        manifest = parse_manifest(_open(module, _url(p, "manifest.json")).read(), p["version"])
    except ModelStoreError as exc:
        module.fail_json(msg=f"model_weights: {p['store_url']}: {exc}; nothing was changed")
    marker_path = os.path.join(p["dest"], MARKER)
    try:
        with open(marker_path) as handle:
            marker = json.load(handle)
        marker = marker.get("files", {}) if marker.get("manifest_sha256") == manifest["manifest_sha256"] else {}
    except (OSError, ValueError, AttributeError):
        marker = {}
    stale = plan(manifest, _local(p["dest"], manifest, marker))
    result = {"changed": bool(stale["fetch"]), "manifest_sha256": manifest["manifest_sha256"], "files": len(manifest["files"])}
    result["fetched"] = [{k: f[k] for k in ("path", "reason", "size")} for f in stale["fetch"]]
    result["bytes_fetched"] = 0
    if module._diff:
        result["diff"] = {"before": {"stale": [f["path"] for f in stale["fetch"]]}, "after": {"stale": []}}
    if p["state"] == "verified":
        result["changed"] = False
        if stale["fetch"]:
            wrong = ", ".join(f"{f['path']} ({f['reason']})" for f in stale["fetch"][:5])
            result["msg"] = f"model_weights: {p['version']} weights in {p['dest']} do not match their manifest: {wrong}"
            module.fail_json(**result)
        module.exit_json(**result)
    if module.check_mode:
        module.exit_json(**result)
    for entry in stale["fetch"]:
        result["bytes_fetched"] += _fetch(module, entry, p["dest"])
    # The marker is a cache of hashes, not a change: written whenever the cache matches its manifest.
    files = {}
    for entry in manifest["files"]:
        stat = os.stat(os.path.join(p["dest"], entry["path"]))
        files[entry["path"]] = [stat.st_size, stat.st_mtime_ns, entry["sha256"]]
    if files != marker:
        with open(marker_path + ".tmp", "w") as handle:
            json.dump({"manifest_sha256": manifest["manifest_sha256"], "files": files}, handle)
        os.replace(marker_path + ".tmp", marker_path)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
