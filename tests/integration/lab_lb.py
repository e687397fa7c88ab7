"""The lab's HAProxy runtime API and its registry, read from outside (docker exec, loopback): shared by the
integration tests and benchmarks/rollback.py."""

from __future__ import annotations

import subprocess

SOCKET = "/run/haproxy/admin.sock"
BACKEND = "liveavatar"


def lab_exec(lab_name, host, *argv, check=True):
    return subprocess.run(["docker", "exec", f"{lab_name}-{host}", *argv], capture_output=True, text=True, check=check, timeout=120)


def stat_rows(stat_csv):
    """Rows of `show stat` for the backend's servers, as dicts keyed by the CSV header."""
    rows, header = [], []
    for line in stat_csv.splitlines():
        fields = line.split(",")
        if line.startswith("#"):
            header = [f.strip("# ") for f in fields]
            continue
        row = dict(zip(header, fields, strict=False))
        if row.get("pxname") == BACKEND and row.get("svname") not in ("FRONTEND", "BACKEND"):
            rows.append(row)
    return rows


def plain_curl(*argv):
    return subprocess.run(["curl", "-s", *argv], capture_output=True, text=True, check=True, timeout=30)


def registry_digest(tag, repository="liveavatar/live-avatar", api="http://127.0.0.1:15000", curl=plain_curl):
    """Digest the lab registry's tag points at (a HEAD of its manifest), or None; curl: how to reach a TLS registry."""
    head = curl("-I", "-H", "Accept: application/vnd.docker.distribution.manifest.v2+json", f"{api}/v2/{repository}/manifests/{tag}").stdout
    return next((line.split(":", 1)[1].strip() for line in head.splitlines() if line.lower().startswith("docker-content-digest:")), None)
