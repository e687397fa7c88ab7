"""Lab only: publish each lab version's weights to the model store directory, with its checksum manifest.

The stand-in service needs no real weights: each version gets small deterministic files in the layout of upstream's
checkpoint directory, so that the release fetches, checks and records them as it would 40 GB of real ones.
Usage: publish.py <store dir> <version>...  Prints one JSON line: {"changed": bool, "manifests": {version: sha256}}.
"""

import hashlib
import json
import os
import sys

FILES = (
    "Wan2.2-S2V-14B/config.json",
    "Wan2.2-S2V-14B/diffusion_pytorch_model.safetensors",
    "Wan2.2-S2V-14B/Wan2.1_VAE.pth",
    "LiveAvatar/liveavatar.safetensors",
)


def content(version, path):
    return (f"lab weights {version} {path}\n" * 64).encode()


def write_if_changed(path, data):
    try:
        with open(path, "rb") as handle:
            if handle.read() == data:
                return False
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "wb") as handle:
        handle.write(data)
    os.replace(path + ".tmp", path)
    return True


def main(store, versions):
    changed, manifests = False, {}
    for version in versions:
        entries = []
        for path in FILES:
            data = content(version, path)
            changed |= write_if_changed(os.path.join(store, version, path), data)
            entries.append({"path": path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
        manifest = json.dumps({"version": version, "files": entries}, indent=1).encode() + b"\n"
        changed |= write_if_changed(os.path.join(store, version, "manifest.json"), manifest)
        manifests[version] = hashlib.sha256(manifest).hexdigest()
    print(json.dumps({"changed": changed, "manifests": manifests}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
