# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The file operations that manifests, the ledger and incident bundles share: atomic writes and a file's sha256."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile


def write_text_atomically(path, text, mode=None, dir_mode=0o755):
    """Temp file in the same directory, fsync, rename, fsync the directory: a crash leaves the old or the new file.
    mode: the file's permission bits (None keeps the temp file's 0600)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=dir_mode, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=directory)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_json_atomically(path, data):
    """write_text_atomically of data as indented JSON with sorted keys."""
    write_text_atomically(path, json.dumps(data, indent=2, sort_keys=True))


def sha256_file(path):
    """Hex sha256 of a file, or None when there is no such file."""
    if not os.path.isfile(path):
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
