"""Run the collection's playbooks against the lab through ansible-runner, as AWX would."""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import ansible_runner

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "inventories" / "lab"


@dataclass
class PlaybookRun:
    rc: int
    stats: dict
    stdout: str

    def changed_hosts(self):
        return {host: n for host, n in (self.stats.get("changed") or {}).items() if n}


def run_playbook(name, extravars=None, limit=None, envvars=None, timeout=1800, cmdline=None):
    """Run playbooks/<name> on the lab inventory; return rc, per-host stats and the whole stdout."""
    # ansible-playbook of the interpreter running the tests, whether or not the venv is on PATH.
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    env = {"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0", "PATH": path}
    env.update(envvars or {})
    with tempfile.TemporaryDirectory(prefix="lab-runner-") as private:
        result = ansible_runner.run(
            private_data_dir=private,
            project_dir=str(ROOT),
            playbook=str(ROOT / "playbooks" / name),
            inventory=str(INVENTORY),
            extravars=extravars or {},
            limit=limit,
            cmdline=cmdline,
            envvars=env,
            quiet=True,
            timeout=timeout,
        )
        # Events live in the private data dir: read them before it is removed.
        return PlaybookRun(rc=result.rc, stats=result.stats or {}, stdout=result.stdout.read())
