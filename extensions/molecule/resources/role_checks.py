"""Helpers for the scenarios' testinfra tests: run a role with other inputs and prove a refusal changed nothing."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[3]


def run_role(role, extra_vars, gather_facts=True):
    """Apply liveavatar.rollout.<role> to the instance with extra vars; return (rc, combined output)."""
    inventory = os.environ.get("MOLECULE_INVENTORY_FILE")
    assert inventory, "MOLECULE_INVENTORY_FILE is not set: run these tests through molecule verify"
    play = [{"name": f"Bad input for {role}", "hosts": "all", "gather_facts": gather_facts, "roles": [{"role": f"liveavatar.rollout.{role}"}]}]
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as playbook, tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as evars:
        json.dump(play, playbook)
        json.dump(extra_vars, evars)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(PROJECT / ".collections"), ANSIBLE_NOCOLOR="1")
    try:
        proc = subprocess.run(
            ["ansible-playbook", "-i", inventory, playbook.name, "-e", f"@{evars.name}"], env=env, capture_output=True, text=True, timeout=300, check=False
        )
    finally:
        os.unlink(playbook.name)
        os.unlink(evars.name)
    return proc.returncode, proc.stdout + proc.stderr


def state_of(host, paths):
    """Checksums of files and listings of directories, to compare before and after a refused run."""
    return host.run("find %s -type f -exec sha256sum {} + 2>/dev/null | sort; dpkg-query -W 2>/dev/null | sha256sum", " ".join(paths)).stdout


def assert_refused(host, role, extra_vars, message, paths, gather_facts=True):
    """The role fails with the one-line message and the watched paths and package set do not change."""
    before = state_of(host, paths)
    rc, output = run_role(role, extra_vars, gather_facts=gather_facts)
    assert rc != 0, output[-3000:]
    assert any(message in line for line in output.splitlines()), f"'{message}' is not on one line of: {output[-3000:]}"
    assert state_of(host, paths) == before, "a refused run changed the host"
