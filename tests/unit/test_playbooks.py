"""Every playbook parses; the AWX setup refuses to run without a project URL before it calls a controller."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = sorted((ROOT / "playbooks").glob("*.yml"))
BIN = Path(sys.executable).parent


def ansible_playbook(*args):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    return subprocess.run([str(BIN / "ansible-playbook"), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("playbook", PLAYBOOKS, ids=[p.name for p in PLAYBOOKS])
def test_playbook_parses(playbook):
    run = ansible_playbook("--syntax-check", "-i", "inventories/lab", str(playbook))
    assert run.returncode == 0, run.stdout + run.stderr


def test_awx_setup_without_a_project_url_stops_in_one_line():
    run = ansible_playbook("-i", "localhost,", "-c", "local", "playbooks/awx_templates.yml")
    assert run.returncode != 0
    assert "awx_templates: give -e awx_project_scm_url=<git URL of this collection's repo>; nothing was changed" in run.stdout


def release_path_files():
    places = [ROOT / "playbooks", ROOT / "roles" / "canary_release"]
    return sorted(p for place in places for p in place.rglob("*") if p.is_file() and p.suffix in (".yml", ".sh", ".j2"))


def test_rollout_yml_is_short_and_no_playbook_reads_the_controllers_hostvars():
    """Issue 12: the plays orchestrate (hosts, serial, an entry point); the release's state lives in the role."""
    assert len((ROOT / "playbooks" / "rollout.yml").read_text().splitlines()) <= 120
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "playbooks").rglob("*.yml"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "hostvars['localhost']" in line or 'hostvars["localhost"]' in line
    ]
    assert offenders == [], "read the release through liveavatar.rollout.canary_release's entry points"


def test_the_release_path_reaches_the_load_balancer_only_through_haproxy_runtime():
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in release_path_files()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "socat" in line or "lb_runtime" in line or "community.general.haproxy" in line
    ]
    assert offenders == [], "use liveavatar.rollout.haproxy_runtime"
    assert not (ROOT / "playbooks" / "files" / "lb_runtime.sh").exists()


def _tasks(node):
    """Every task dict in a parsed task file, blocks and handlers included."""
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        yield node
        for key in ("block", "rescue", "always", "tasks", "pre_tasks", "post_tasks", "handlers"):
            yield from _tasks(node.get(key))


def test_no_registered_result_read_for_failures_was_made_unable_to_fail():
    """failed_when: false sets every result's 'failed' to false: a later selectattr('failed') never sees a miss (CI, 2026-12-04)."""
    import yaml

    offenders = []
    for path in sorted(p for place in (ROOT / "playbooks", ROOT / "roles") for p in place.rglob("*.yml")):
        text = path.read_text()
        for task in _tasks(yaml.safe_load(text)):
            name = task.get("register")
            if name and task.get("failed_when") is False and re.search(rf"{re.escape(name)}\b[^\n]*selectattr\('failed'", text):
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == [], "register with ignore_errors: true where a later task reads which results failed"


def test_the_lab_reset_refuses_a_real_fleets_inventory_before_it_touches_a_host():
    """Issue 13 item 7: lab_reset_fleet.yml deleted the ledger, the containers and the config repo of any inventory."""
    run = ansible_playbook("-i", "inventories/example", "playbooks/lab_reset_fleet.yml")
    assert run.returncode != 0
    assert "runs only on the lab's inventory (inventories/lab); nothing was changed" in run.stdout
    assert "Lab only | Remove the ledger and the lock" not in run.stdout, run.stdout[-2000:]


def test_awx_launchers_answer_the_survey_only():
    """Issue 13 item 5: with ask_variables_on_launch a launcher could pass any variable (stages=3, tolerances, registry)."""
    import yaml

    play = yaml.safe_load((ROOT / "playbooks" / "awx_templates.yml").read_text())[0]
    templates = [t for t in play["tasks"] if "awx.awx.job_template" in t]
    assert templates and all(t["awx.awx.job_template"]["ask_variables_on_launch"] is False for t in templates)
    close = yaml.safe_load((ROOT / "roles" / "canary_release" / "tasks" / "close.yml").read_text())
    assert any("ansible.builtin.set_stats" in task and "rollout_validated_digest" in task["ansible.builtin.set_stats"]["data"] for task in close)
