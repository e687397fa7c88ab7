"""Print a table of the lab's hosts, their containers and the services that answer on them."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
LAB_VARS = yaml.safe_load((ROOT / "inventories/lab/group_vars/all.yml").read_text())
INVENTORY = yaml.safe_load((ROOT / "inventories/lab/hosts.yml").read_text())


def host_groups(tree, path=()):
    """Yield (host, groups) from the static YAML inventory."""
    for name, group in (tree or {}).items():
        group = group or {}
        for host in group.get("hosts") or {}:
            yield host, (*path, name)
        yield from host_groups(group.get("children"), (*path, name))


def published(host, container_port):
    for spec in LAB_VARS["lab_published_ports"].get(host, []):
        address, port, inner = spec.rsplit(":", 2)
        if int(inner) == container_port:
            return f"{address}:{port}"
    return None


def http_ok(url):
    try:
        # Only http:// URLs built from the lab inventory reach here.
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310
            return response.status == 200
    except OSError:
        return False


def container_state(name):
    out = subprocess.run(["docker", "inspect", "-f", "{{.State.Status}}", name], capture_output=True, text=True, check=False)
    return out.stdout.strip() if out.returncode == 0 else "absent"


def service_containers(name):
    fmt = '{{.Names}}={{.Label "io.liveavatar.version"}}'
    out = subprocess.run(["docker", "exec", name, "docker", "ps", "--filter", "name=liveavatar-", "--format", fmt], capture_output=True, text=True, check=False)
    return sorted(out.stdout.split()) if out.returncode == 0 else []


def engine_version(name):
    out = subprocess.run(["docker", "exec", name, "docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True, check=False)
    return out.stdout.strip() if out.returncode == 0 else None


ENDPOINTS = {
    "registry": [("registry API", 5000, "/v2/")],
    "lb": [("LB frontend", 8080, "/lb-health"), ("LB exporter", 8405, "/metrics")],
    "monitor": [("Prometheus", 9090, "/-/ready"), ("Alertmanager", 9093, "/-/ready")],
}


def main():
    groups = {}
    for host, path in host_groups(INVENTORY["all"]["children"]):
        groups.setdefault(host, []).append(path[-1])
    rows, healthy = [], True
    for host in sorted(groups):
        container = f"{LAB_VARS['lab_name']}-{host}"
        state = container_state(container)
        services = []
        for label, port, path in ENDPOINTS.get(host, []):
            address = published(host, port)
            ok = address is not None and http_ok(f"http://{address}{path}")
            healthy &= ok
            services.append(f"{label} {address} {'up' if ok else 'DOWN'}")
        if host.startswith("gpu-node"):
            version = engine_version(container) if state == "running" else None
            healthy &= version is not None
            services.append(f"docker engine {version or 'DOWN'} (GPUs simulated)")
            services.extend(service_containers(container) if version else [])
        healthy &= state == "running"
        rows.append((host, ",".join(groups[host]), state, "; ".join(services)))
    widths = [max(len(str(r[i])) for r in [("host", "groups", "state", "services"), *rows]) for i in range(4)]
    for row in [("host", "groups", "state", "services"), *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
