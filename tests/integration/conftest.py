"""One lab for the whole integration session: brought up and provisioned once, destroyed at the end."""

from __future__ import annotations

import os

import pytest

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
