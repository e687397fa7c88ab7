"""One lab for the whole integration session: brought up and provisioned once, destroyed at the end."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# The collection's module_utils (log patterns) through the link `make venv` makes.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".collections"))

from lab_runner import run_playbook


@pytest.fixture(scope="session")
def lab():
    """The lab up and provisioned; LAB_KEEP=1 leaves it running afterwards for inspection."""
    up = run_playbook("lab.yml")
    assert up.rc == 0, up.stdout[-4000:]
    provision = run_playbook("provision.yml")
    assert provision.rc == 0, provision.stdout[-6000:]
    yield {"provision": provision}
    if os.environ.get("LAB_KEEP") != "1":
        down = run_playbook("lab_destroy.yml")
        assert down.rc == 0, down.stdout[-4000:]


@pytest.fixture(scope="session")
def workload_digests(lab):
    """Every version's image built and pushed to the lab registry; {version: digest}."""
    import subprocess

    from lab_runner import ROOT

    push = subprocess.run([str(ROOT / "lab/workload/build.sh"), "--push", "127.0.0.1:15000"], capture_output=True, text=True, timeout=1800, check=False)
    assert push.returncode == 0, push.stderr[-3000:]
    digests = dict(line.split() for line in push.stdout.splitlines() if line.startswith("v"))
    assert set(digests) == {"v1.0", "v1.1", "v1.2"}, push.stdout
    return digests
