"""rollback.yml over the lab: bad input (traffic off first, then one line), a manual rollback from a promoted
v1.1 to v1.0 under load, its idempotence, and a rollback killed with SIGKILL during step 2 and run again.
Runs after test_rollout.py (the fleet is then on v1.1 promoted over v1.0); sets that state up itself otherwise."""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from lab_lb import SOCKET, registry_digest, stat_rows
from lab_runner import INVENTORY, ROOT, run_playbook
from test_lab import ALL_INTERFACES_ALLOWED, LAB, listeners_on_every_interface
from test_rollout import (
    CONFIG_REPO,
    LEDGER,
    NODES,
    BoundedLoad,
    assert_rolled_back_to,
    commit_config_change,
    containers,
    lab_exec,
    latest_report,
    ledger,
    run_under_load,
    served_versions,
)

LOCK = "/var/lib/liveavatar-rollout/rollout.lock"


def lab_write(host, path, content):
    subprocess.run(["docker", "exec", "-i", f"{LAB['lab_name']}-{host}", "sh", "-c", f"cat > {path}"], input=content, text=True, check=True, timeout=60)


def lb_api(command):
    return lab_exec("lb", "sh", "-c", f"echo '{command}' | socat stdio unix-connect:{SOCKET}").stdout


def weight(server):
    return int(lb_api(f"get weight liveavatar/{server}").split()[0])


def backend_errors():
    """Connection errors, retries and redispatches of the backend's servers: a request sent to a stopped server
    shows up in one of them, even when HAProxy then saves it on another server."""
    return {row["svname"]: sum(int(row[k] or 0) for k in ("econ", "wretr", "wredis")) for row in stat_rows(lb_api("show stat"))}


@pytest.fixture(scope="module")
def fleet_on_v11(lab, workload_digests):
    """v1.1 promoted over v1.0, configuration changed in between (left so by test_rollout.py, else made here)."""
    state = ledger() or {}
    if (state.get("stable") or {}).get("version") != "v1.1" or (state.get("previous_stable") or {}).get("version") != "v1.0":
        lab_exec("registry", "rm", "-f", LEDGER, "/var/lib/liveavatar-rollout/rollout.lock")
        subprocess.run(["rm", "-rf", str(CONFIG_REPO)], check=True)
        assert run_playbook("bootstrap.yml", extravars={"version": "v1.0"}).rc == 0
        commit_config_change("fleet: NCCL settings reviewed after v1.0")
        run = run_playbook("rollout.yml", extravars={"version": "v1.1", "bake_time": 20})
        assert run.rc == 0, run.stdout[-4000:]
    assert served_versions() == {"v1.1": 20}
    return workload_digests


def with_broken_input(kind, digests):
    """Set up one kind of bad input; return (extravars, expected message, undo)."""
    if kind == "unknown to_version":
        return {"to_version": "v0.9"}, "rollback: to_version v0.9 has no ledger entry", lambda: None
    if kind == "malformed to_version":
        return {"to_version": "1.0; reboot"}, "rollback: to_version '1.0; reboot' is not vMAJOR.MINOR[.PATCH]", lambda: None
    if kind == "no image":
        saved = lab_exec("registry", "cat", LEDGER).stdout
        state = json.loads(saved)
        state["releases"].append({"run_id": "test-ghost", "version": "v0.8", "digest": "sha256:" + "0" * 64, "status": "promoted", "events": []})
        lab_write("registry", LEDGER, json.dumps(state))
        return (
            {"to_version": "v0.8"},
            "rollback: no image liveavatar/live-avatar@sha256:0000",
            lambda: lab_write("registry", LEDGER, saved),
        )
    if kind == "missing config tag":
        git = ["git", "-C", str(CONFIG_REPO)]
        commit = subprocess.run([*git, "rev-parse", "release/v1.0^{commit}"], capture_output=True, text=True, check=True).stdout.strip()
        subprocess.run([*git, "tag", "-d", "release/v1.0"], capture_output=True, check=True)
        restore = [*git, "-c", "user.name=test", "-c", "user.email=test@lab.invalid", "tag", "-a", "release/v1.0", "-m", "restored", commit]
        return {"to_version": "v1.0"}, "rollback: no tag release/v1.0 in", lambda: subprocess.run(restore, check=True)
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["unknown to_version", "malformed to_version", "no image", "missing config tag"])
def test_bad_input_takes_traffic_off_the_candidate_then_stops_in_one_line(fleet_on_v11, kind):
    lb_api("set weight liveavatar/gpu-node-3-canary 10")
    extravars, message, undo = with_broken_input(kind, fleet_on_v11)
    try:
        before_ledger, before_containers = ledger(), containers()
        before_files = lab_exec("gpu-node-1", "sh", "-c", "find /srv/liveavatar/output -type f | sort").stdout
        run = run_playbook("rollback.yml", extravars=extravars)
        assert run.rc != 0 and message in run.stdout, run.stdout[-3000:]
        assert weight("gpu-node-3-canary") == 0, "traffic comes off the candidate before the input is checked"
        assert ledger() == before_ledger and containers() == before_containers
        assert lab_exec("gpu-node-1", "sh", "-c", "find /srv/liveavatar/output -type f | sort").stdout == before_files, "nothing moved"
    finally:
        undo()


def unreachable_node_inventory(tmp_path, node):
    """An inventory overlay under which node's SSH port answers nobody: Ansible finds it UNREACHABLE while its service
    keeps serving (a partition between controller and node, not between LB and node)."""
    overlay = tmp_path / "unreachable.yml"
    overlay.write_text(f"all:\n  hosts:\n    {node}:\n      ansible_connection: ansible.builtin.ssh\n      ansible_host: 127.0.0.1\n      ansible_port: 9\n")
    return overlay


def alerts_named(name):
    alerts = json.loads(subprocess.run(["curl", "-s", "http://127.0.0.1:19093/api/v2/alerts"], capture_output=True, text=True, check=True).stdout)
    return [a for a in alerts if a["labels"]["alertname"] == name]


def test_manual_rollback_from_promoted_v11_to_v10_survives_what_would_stop_it(fleet_on_v11, tmp_path):
    """Issue 13 item 4: a corrupt manifest, an unreachable serving node, a registry that does not answer and a missing
    configuration tag (rollback_force) each stopped the rollback after traffic was off; now capacity comes back on every
    other node, the rest is skipped and reported, and the next run finishes the job. Issue 17: with Alertmanager down as
    well (and the registry: stable runs from the local image by digest), the alerts are reported as not sent."""
    corrupt = "/srv/liveavatar/output/v1.1/test-corrupt-job"
    lab_exec("gpu-node-1", "sh", "-c", f"mkdir -p {corrupt}/clips && echo '{{\"job_id\": ' > {corrupt}/manifest.json && echo x > {corrupt}/clips/c.mp4")
    _extravars, _message, restore_tag = with_broken_input("missing config tag", fleet_on_v11)
    lab_exec("registry", "systemctl", "stop", "docker-registry")
    lab_exec("monitor", "systemctl", "stop", "prometheus-alertmanager")
    try:
        overlay = unreachable_node_inventory(tmp_path, "gpu-node-4")
        run, load = run_under_load("rollback.yml", extravars={"rollback_force": True}, max_seconds=300, cmdline=f"-i {overlay}")
    finally:
        lab_exec("registry", "systemctl", "start", "docker-registry")
        lab_exec("monitor", "systemctl", "start", "prometheus-alertmanager")
        restore_tag()
    assert run.rc == 0, run.stdout[-6000:]
    assert load.failed == 0, load.errors[:5]
    assert weight("gpu-node-4-stable") == 0 and weight("gpu-node-4-canary") == 0, "the node set aside still serves v1.1"
    assert served_versions() == {"v1.0": 20}
    report = latest_report("rollback-v1.0")
    assert {skip["what"] for skip in report["skipped"]} == {"registry", "configuration", "node gpu-node-4"}, report["skipped"]
    assert report["config_commit"] is None and [node["node"] for node in report["nodes"]] == ["gpu-node-3"]
    assert report["quarantined_jobs"], "the jobs v1.1 wrote on the nodes reached are quarantined"
    aside = "/srv/liveavatar/output/.unreadable-jobs/v1.1/test-corrupt-job"
    assert lab_exec("gpu-node-1", "sh", "-c", f"test ! -e {corrupt} && cat {aside}/clips/c.mp4").stdout.strip() == "x"
    note = json.loads(lab_exec("gpu-node-1", "cat", f"{aside}.json").stdout)
    assert note["from"] == "v1.1/test-corrupt-job" and note["reason"].startswith("corrupt manifest")
    assert [(j["host"], j["to"]) for j in report["unreadable_jobs_set_aside"]] == [("gpu-node-1", ".unreadable-jobs/v1.1/test-corrupt-job")]
    # Alertmanager was down too: the alerts were retried, then reported as not sent; the rollback still finished.
    alerts = report["alerts"]
    assert not alerts["sent"] and "after 4 post(s)" in alerts["error"], alerts
    assert set(alerts["names"]) >= {"LiveAvatarUnreadableJobsSetAside", "LiveAvatarRollbackIncomplete"}, alerts
    assert "alerts LiveAvatarRollbackIncomplete" in run.stdout and "not sent: " in run.stdout
    assert {a["labels"]["alertname"] for a in ledger()["last_rollback"]["unsent_alerts"]} == set(alerts["names"]), "kept for the next rollback"
    assert registry_digest("stable") == fleet_on_v11["v1.1"], "the registry did not answer: its stable tag is left for the next run"
    assert ledger()["last_rollback"]["from"] == ["v1.1"]


def test_manual_rollback_rerun_completes_under_load(fleet_on_v11):
    """The same command with every fault gone: gpu-node-4 leaves v1.1, gpu-node-3 gets release/v1.0's configuration,
    the stable tag moves; v1.1's traffic stops at one switch, before any node is replaced, and no request fails."""
    errors_before = backend_errors()
    run, load = run_under_load("rollback.yml", max_seconds=300)
    assert run.rc == 0, run.stdout[-6000:]
    assert load.failed == 0, load.errors[:5]
    assert load.sent > 20 and set(load.by_version) <= {"v1.0", "v1.1"}
    assert backend_errors() == errors_before, "no request was sent to a stopped server"
    report = assert_rolled_back_to("v1.0", "v1.1", jobs_expected=False)
    assert report["trigger"] == "operator" and report["to"]["digest"] == fleet_on_v11["v1.0"] and report["skipped"] == []
    assert all(node["replaced"] and float(node["model_load_s"]) > 0 for node in report["nodes"])
    # The targets started beside v1.1 first; one call then took v1.1's traffic, before any node was replaced.
    switched_at = datetime.datetime.fromisoformat(report["started"].replace("Z", "+00:00")).timestamp() + float(report["timings"]["bad_version_off_s"])
    assert load.last_at["v1.1"] <= switched_at + 2.0, (load.last_at, switched_at)
    state = ledger()
    assert state["stable"] == {"version": "v1.0", "digest": fleet_on_v11["v1.0"]} and state["last_rollback"]["from"] == ["v1.1"]
    # The first run's alerts went unsent (Alertmanager was down): this run posted them again, and the ledger forgot them.
    quarantine = [a for a in alerts_named("LiveAvatarJobsQuarantined") if a["labels"]["version"] == "v1.1"]
    assert quarantine and alerts_named("LiveAvatarRollbackIncomplete"), "the first run's alerts were posted by this run"
    assert "unsent_alerts" not in state["last_rollback"] and report["alerts"]["sent"], report["alerts"]
    assert registry_digest("stable") == fleet_on_v11["v1.0"]


def test_a_second_rollback_changes_nothing_on_the_fleet(fleet_on_v11):
    run = run_playbook("rollback.yml")
    assert run.rc == 0, run.stdout[-4000:]
    assert set(run.changed_hosts()) <= {"localhost"}, run.changed_hosts()
    assert "rolling back nothing (re-converging)" in run.stdout or "rolling back v1.1" not in run.stdout
    assert served_versions() == {"v1.0": 20}


def test_a_container_label_that_is_not_a_version_never_builds_a_path(fleet_on_v11):
    """Issue 13 item 8: a stage-host container with an empty version label made the rollback remove the whole config root."""
    probe = "liveavatar-label-probe"
    lab_exec("gpu-node-1", "sh", "-c", "mkdir -p /srv/liveavatar/config/v1.0 && echo kept > /srv/liveavatar/config/v1.0/probe.txt")
    lab_exec(
        "gpu-node-1",
        "sh",
        "-c",
        f"docker create --name {probe} --label io.liveavatar.track=stage --label io.liveavatar.version= $(docker images -q | head -1) true",
    )
    try:
        run = run_playbook("rollback.yml")
        assert run.rc == 0, run.stdout[-4000:]
        assert "container version labels ignored (not versions): ''" in run.stdout
        assert lab_exec("gpu-node-1", "cat", "/srv/liveavatar/config/v1.0/probe.txt").stdout.strip() == "kept"
    finally:
        lab_exec("gpu-node-1", "sh", "-c", f"docker rm -f {probe}; rm -f /srv/liveavatar/config/v1.0/probe.txt")
    assert served_versions() == {"v1.0": 20}


def test_rollback_killed_during_capacity_step_then_rerun_completes(fleet_on_v11):
    """SIGKILL of ansible-playbook while a node is being replaced, then the same command again (to v1.1 this time)."""
    errors_before = backend_errors()
    load = BoundedLoad(max_seconds=400)
    load.start()
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(INVENTORY), "playbooks/rollback.yml", "-e", "to_version=v1.1"]
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", PYTHONUNBUFFERED="1")
    try:
        first = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        deadline, seen = time.monotonic() + 300, []
        for line in first.stdout:
            seen.append(line)
            if "rollback_replace_node | Run the target image as the stable track" in line or time.monotonic() > deadline:
                break
        time.sleep(2)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        assert any("rollback_replace_node | Drain this node's stable server" in line for line in seen), "".join(seen[-40:])
        run = run_playbook("rollback.yml", extravars={"to_version": "v1.1"})
    finally:
        load.stop.set()
        load.join(timeout=30)
    assert run.rc == 0, run.stdout[-6000:]
    assert load.failed == 0, load.errors[:5]
    assert backend_errors() == errors_before, "no request was sent to a stopped server"
    assert served_versions() == {"v1.1": 20}
    for node in ("gpu-node-3", "gpu-node-4"):
        assert weight(f"{node}-stable") == 100 and weight(f"{node}-canary") == 0
        assert "liveavatar-stable" in containers()[node]
    assert set(NODES) >= {job["host"] for job in assert_rolled_back_to("v1.1", "v1.0")["quarantined_jobs"]}


def provision_drain_events(stdout):
    """(drain | restore, node) in the order provision.yml ran them."""
    events, task = [], None
    for line in stdout.splitlines():
        if line.startswith("TASK ["):
            task = "drain" if "provision_drain | Drain them" in line else "restore" if "provision_restore | Set the noted weights" in line else None
        elif task and line.startswith(("ok: [", "changed: [")):
            events.append((task, line.split("[", 1)[1].split(" ", 1)[0].rstrip("]")))
    return events


def test_provision_takes_the_lock_and_drains_one_serving_node_at_a_time(fleet_on_v11):
    """Issue 13 item 7: provision.yml refuses while a rollout holds the lock, then converges a serving fleet node by node,
    each drained first and put back once healthy, under load, failing no request."""
    lab_write("registry", LOCK, json.dumps({"run_id": "test-live-rollout", "since": "2026-12-03T00:00:00Z"}))
    try:
        refused = run_playbook("provision.yml")
    finally:
        lab_exec("registry", "rm", "-f", LOCK)
    assert refused.rc != 0 and "a rollout is already in progress (run test-live-rollout" in refused.stdout, refused.stdout[-3000:]
    assert refused.changed_hosts() == {}, refused.changed_hosts()
    run, load = run_under_load("provision.yml", max_seconds=600)
    assert run.rc == 0, run.stdout[-6000:]
    assert load.failed == 0, load.errors[:5]
    drains = [("drain", "gpu-node-3"), ("restore", "gpu-node-3"), ("drain", "gpu-node-4"), ("restore", "gpu-node-4")]
    assert provision_drain_events(run.stdout) == drains, provision_drain_events(run.stdout)
    for node in ("gpu-node-3", "gpu-node-4"):
        assert weight(f"{node}-stable") == 100 and weight(f"{node}-canary") == 0
    leftovers = lab_exec("lb", "sh", "-c", "ls /var/lib/liveavatar-rollout/ 2>/dev/null; true").stdout
    assert "provision-drained" not in leftovers and lab_exec("registry", "sh", "-c", f"test ! -e {LOCK} && echo free").stdout.strip() == "free"
    assert served_versions() == {"v1.1": 20}


def test_service_ports_bind_the_node_address_not_every_interface(fleet_on_v11):
    """Issue 13 item 6: the service's ports were published on every interface of the node, bypassing the LB."""
    assert served_versions() == {"v1.1": 20}
    assert listeners_on_every_interface() <= ALL_INTERFACES_ALLOWED
