"""Runs after every other integration test file (alphabetical order): it tears the shared lab down."""

from __future__ import annotations

import subprocess

from lab_runner import run_playbook
from test_lab import LAB


def docker(*args, check=True):
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def test_destroy_removes_only_what_the_lab_labelled(lab):
    outsider = f"{LAB['lab_name']}-outsider-data"
    docker("volume", "create", outsider)
    try:
        down = run_playbook("lab_destroy.yml")
        assert down.rc == 0, down.stdout[-3000:]
        label = f"label={LAB['lab_label']}={LAB['lab_name']}"
        assert docker("ps", "-aq", "--filter", label).stdout.strip() == ""
        assert docker("volume", "ls", "-q", "--filter", label).stdout.strip() == ""
        assert docker("network", "ls", "-q", "--filter", label).stdout.strip() == ""
        assert docker("volume", "inspect", outsider, check=False).returncode == 0
    finally:
        docker("volume", "rm", outsider, check=False)
