"""The lab registry with TLS and htpasswd for one case (issue 13 item 6): a throw-away CA, a certificate for the names
the nodes and the controller use, one bcrypt user, provisioned with provision.yml and put back to plain HTTP after."""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

from lab_lb import lab_exec
from lab_runner import run_playbook
from test_lab import GPU_NODES, LAB

# The registry listens here while TLS is on; the nodes do not list registry:5443 as insecure, so they verify it.
TLS_PORT = 5443
TLS_LOOPBACK_PORT = 15443
REGISTRY_ADDRESS = "172.30.77.10"
USERNAME = "lab-rollout"


@dataclass
class RegistryAuth:
    ca_path: Path
    password: str
    extravars: dict

    @property
    def api(self):
        return f"https://127.0.0.1:{TLS_LOOPBACK_PORT}"

    def curl(self, *argv, credentials=True):
        """curl against the TLS registry, trusting only the lab CA."""
        auth = ["-u", f"{USERNAME}:{self.password}"] if credentials else []
        return subprocess.run(["curl", "-s", "--cacert", str(self.ca_path), *auth, *argv], capture_output=True, text=True, check=False, timeout=30)


def bcrypt_entry(username, password):
    """An htpasswd line (bcrypt, as Distribution requires) from the C library's crypt(3)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # noqa: PLC0415 - deprecated module, imported only where the lab needs a bcrypt hash

    return f"{username}:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))}\n"


def make_certificates(workdir):
    """A CA and a registry certificate for registry:5443 (the nodes), 127.0.0.1 (the controller) and the registry's address."""
    ca_key, ca_crt, key, csr, crt = (workdir / n for n in ("ca.key", "ca.crt", "registry.key", "registry.csr", "registry.crt"))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    subprocess.run(
        ["openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", ca_crt, "-days", "2", "-subj", "/CN=liveavatar lab CA"], capture_output=True, check=True
    )
    subprocess.run(["openssl", "req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=registry"], capture_output=True, check=True)
    extensions = workdir / "san.cnf"
    extensions.write_text(f"subjectAltName=DNS:registry,IP:127.0.0.1,IP:{REGISTRY_ADDRESS}\nextendedKeyUsage=serverAuth\n")
    subprocess.run(
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", extensions],
        capture_output=True,
        check=True,
    )
    return ca_crt, crt.read_text(), key.read_text()


@contextlib.contextmanager
def registry_with_tls_and_htpasswd(workdir):
    """Provision the registry with TLS and htpasswd and the nodes with its CA; yield what a rollout needs; undo."""
    ca_path, certificate, key = make_certificates(workdir)
    password = secrets.token_urlsafe(18)
    repository = f"registry:{TLS_PORT}/liveavatar/live-avatar"
    # Host vars of an inventory overlay (they outrank the lab's group_vars): TLS for the registry, CA and login for the nodes.
    nodes = {"docker_engine_registry_ca_certificates": {f"registry:{TLS_PORT}": ca_path.read_text()}}
    nodes["docker_engine_registry_logins"] = [{"registry": f"registry:{TLS_PORT}", "username": USERNAME, "password": password}]
    registry = {
        "container_registry_listen_address": f"{REGISTRY_ADDRESS}:{TLS_PORT}",
        "container_registry_tls_certificate": certificate,
        "container_registry_tls_key": key,
        "container_registry_htpasswd_content": bcrypt_entry(USERNAME, password),
    }
    overlay = workdir / "registry-tls.yml"
    hosts = {"registry": registry} | {node: nodes for node in GPU_NODES}
    overlay.write_text(json.dumps({"all": {"hosts": hosts}}))
    auth = RegistryAuth(
        ca_path=ca_path,
        password=password,
        extravars={
            "rollout_registry_api": f"https://127.0.0.1:{TLS_LOOPBACK_PORT}",
            "rollout_registry_ca_path": str(ca_path),
            "rollout_registry_username": USERNAME,
            "rollout_registry_password": password,
            "rollout_image_repository": repository,
        },
    )
    run = run_playbook("provision.yml", limit="registry,gpu_nodes", cmdline=f"-i {overlay}")
    try:
        assert run.rc == 0, run.stdout[-5000:]
        yield auth
    finally:
        # Back to the lab's plain registry (the other cases); the nodes' CA files and logins stay, unused.
        undo = run_playbook("provision.yml", limit="registry")
        assert undo.rc == 0, undo.stdout[-5000:]


def image_pulled_through(node, repository, digest):
    """Whether the node's engine holds repository@digest (a pull under that name leaves it in RepoDigests)."""
    out = lab_exec(LAB["lab_name"], node, "docker", "image", "inspect", "--format", "{{json .RepoDigests}}", f"{repository}@{digest}", check=False)
    return out.returncode == 0 and f"{repository}@{digest}" in json.loads(out.stdout)
