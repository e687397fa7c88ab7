"""The lab, provisioned by the collection's roles, checked from outside (loopback and docker exec only)."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request

import pytest
import yaml

from lab_runner import ROOT, run_playbook

LAB = yaml.safe_load((ROOT / "inventories/lab/group_vars/all.yml").read_text())
GPU_NODES = ["gpu-node-1", "gpu-node-2", "gpu-node-3", "gpu-node-4"]


def loopback(host, container_port):
    for spec in LAB["lab_published_ports"][host]:
        address, port, inner = spec.rsplit(":", 2)
        if int(inner) == container_port:
            assert address == "127.0.0.1", f"{host}:{container_port} is published on {address}, not loopback"
            return f"http://127.0.0.1:{port}"
    raise AssertionError(f"{host}:{container_port} is not published")


def get(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


def docker(*args, check=True):
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def test_registry_answers_its_api(lab):
    status, body = get(loopback("registry", 5000) + "/v2/")
    assert status == 200 and body.strip() == "{}"


def test_lb_frontend_and_exporter_answer_on_loopback(lab):
    status, _body = get(loopback("lb", 8080) + "/lb-health")
    assert status == 200
    status, metrics = get(loopback("lb", 8405) + "/metrics")
    assert status == 200
    for node in ("gpu-node-3", "gpu-node-4"):
        assert f'haproxy_server_weight{{proxy="liveavatar",server="{node}-canary"}} 0' in metrics
        assert f'haproxy_server_weight{{proxy="liveavatar",server="{node}-stable"}} 100' in metrics


def test_prometheus_reports_its_targets_up(lab):
    url = loopback("monitor", 9090) + "/api/v1/targets"
    expected = {"prometheus", "alertmanager", "haproxy", "docker_engine"}
    deadline = time.monotonic() + 90
    while True:
        targets = json.loads(get(url)[1])["data"]["activeTargets"]
        health = {(t["labels"]["job"], t["labels"]["instance"]): t["health"] for t in targets}
        down = {k: v for k, v in health.items() if k[0] in expected and v != "up"}
        if not down and expected <= {job for job, _instance in health} or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert not down, f"targets not up: {down}"
    assert {f"{n}:9323" for n in GPU_NODES} <= {i for j, i in health if j == "docker_engine"}
    # The service's own endpoints are scraped too; they stay down until a version is deployed.
    assert {f"{n}:{p}" for n in GPU_NODES for p in (8000, 8001)} == {i for j, i in health if j == "liveavatar"}


# The LB's service frontend is the fleet's entry point; everything else binds the address the inventory names.
ALL_INTERFACES_ALLOWED = {("lb", 8080)}


def listeners_on_every_interface():
    """(host, port) of every TCP listener on 0.0.0.0, [::] or * in the lab hosts."""
    found = set()
    for host in LAB["lab_published_ports"].keys() | set(GPU_NODES):
        listing = docker("exec", f"{LAB['lab_name']}-{host}", "ss", "-ltnH").stdout
        for line in listing.splitlines():
            address, port = line.split()[3].rsplit(":", 1)
            if address in ("0.0.0.0", "*", "[::]"):
                found.add((host, int(port)))
    return found


def test_nothing_listens_on_every_interface_but_the_lb_frontend(lab):
    """Issue 13 item 6: Prometheus, Alertmanager, the HAProxy exporter, the registry and Docker's metrics listened on
    every interface."""
    assert listeners_on_every_interface() <= ALL_INTERFACES_ALLOWED


def test_prometheus_lifecycle_and_registry_delete_are_off(lab):
    request = urllib.request.Request(loopback("monitor", 9090) + "/-/reload", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 403, "whoever reaches Prometheus must not reload or stop it"
    request = urllib.request.Request(loopback("registry", 5000) + "/v2/liveavatar/live-avatar/manifests/sha256:" + "0" * 64, method="DELETE")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 405, "the registry's delete API must be off"


def test_alertmanager_is_ready(lab):
    assert get(loopback("monitor", 9093) + "/-/ready")[0] == 200


def test_each_gpu_node_engine_runs_a_container_pulled_by_digest(lab):
    base = docker("image", "inspect", "-f", "{{.Id}}", LAB["lab_host_image"]).stdout.strip()
    assert base
    pushed = "127.0.0.1:15000/lab/smoke:" + base.split(":")[1][:12]
    docker("tag", LAB["lab_host_image"], pushed)
    push = docker("push", pushed)
    digest = next(line.split("digest: ")[1].split()[0] for line in push.stdout.splitlines() if "digest: " in line)
    reference = f"{LAB['lab_registry']}/lab/smoke@{digest}"
    for node in GPU_NODES:
        container = f"{LAB['lab_name']}-{node}"
        run = docker("exec", container, "docker", "run", "--rm", reference, "cat", "/etc/hostname", check=False)
        assert run.returncode == 0, f"{node}: {run.stderr}"
        assert run.stdout.strip(), f"{node}: the container printed nothing"


def test_second_provision_changes_nothing(lab):
    again = run_playbook("provision.yml")
    assert again.rc == 0, again.stdout[-4000:]
    assert again.changed_hosts() == {}, f"not idempotent: {again.changed_hosts()}"
    assert set(again.stats["ok"]) == set(GPU_NODES) | {"registry", "lb", "monitor"}


def live_rule_groups():
    return sorted(g["name"] for g in json.loads(get(loopback("monitor", 9090) + "/api/v1/rules")[1])["data"]["groups"])


def test_live_avatar_rules_are_loaded_after_their_unit_tests(lab):
    assert {"liveavatar_recording", "liveavatar_alerts", "scrape_health"} <= set(live_rule_groups())
    tested = docker("exec", f"{LAB['lab_name']}-monitor", "sh", "-c", "cd /etc/prometheus/staging/rule_tests && promtool test rules liveavatar_test.yml")
    assert "SUCCESS" in tested.stdout


@pytest.mark.parametrize(
    ("extravars", "message"),
    [
        ({"prometheus_extra_rule_files": ["{rules}"]}, "promtool check rules"),
        ({"prometheus_gpu_memory_high_percent": 150}, "prometheus: alert thresholds out of range (GPU memory 150%"),
        ({"prometheus_canary_latency_factor": 0.5}, "prometheus: alert thresholds out of range"),
    ],
)
def test_bad_rules_stop_the_role_and_prometheus_keeps_its_rules(lab, tmp_path, extravars, message):
    broken = tmp_path / "broken.yml"
    broken.write_text("groups:\n  - name: broken\n    rules:\n      - alert: Broken\n        expr: rate(up[5m] > \n")
    extravars = {k: [str(broken)] if v == ["{rules}"] else v for k, v in extravars.items()}
    before = live_rule_groups()
    run = run_playbook("provision.yml", limit="monitoring", extravars=extravars)
    assert run.rc != 0 and message in run.stdout, run.stdout[-3000:]
    assert live_rule_groups() == before
    assert docker("exec", f"{LAB['lab_name']}-monitor", "test", "-e", "/etc/prometheus/rules/broken.yml", check=False).returncode != 0


def test_unknown_host_in_limit_is_refused_in_one_line(lab):
    run = run_playbook("provision.yml", limit="gpu-node-9")
    assert run.rc != 0
    assert "Could not match supplied host pattern" in run.stdout
    assert "gpu-node-9" in run.stdout


def test_alertmanagers_secrets_are_readable_by_its_group_only(lab):
    """Issue 13 item 6 (file modes): alertmanager.yml holds the SMTP password and the WeCom keys."""
    out = docker("exec", f"{LAB['lab_name']}-monitor", "stat", "-c", "%a %U %G", "/etc/prometheus/alertmanager.yml").stdout.strip()
    assert out == "640 root prometheus"


def test_the_lab_reset_passes_its_guard_on_the_lab(lab):
    # Check mode: the guard reads the containers' labels; the removals after it only report what they would do.
    run = run_playbook("lab_reset_fleet.yml", cmdline="--check")
    assert run.rc == 0, run.stdout[-3000:]
    assert "Lab only | Require every host to be a container labelled as this lab's" in run.stdout
    foreign = run_playbook("lab_reset_fleet.yml", extravars={"lab_name": "someone-elses-lab"}, cmdline="--check")
    assert foreign.rc != 0 and "(registry is not a container labelled io.liveavatar.lab=someone-elses-lab)" in foreign.stdout


def test_lab_network_owned_by_something_else_is_refused(lab):
    foreign = "liveavatar-foreign-net"
    docker("network", "rm", foreign, check=False)
    docker("network", "create", foreign)
    try:
        run = run_playbook("lab.yml", extravars={"lab_network": foreign})
        assert run.rc != 0
        assert f"Docker network '{foreign}' exists and is not labelled" in run.stdout
        assert "nothing was changed" in run.stdout
        assert docker("network", "inspect", foreign, check=False).returncode == 0
    finally:
        docker("network", "rm", foreign, check=False)


def test_no_docker_engine_is_refused_in_one_line(lab, tmp_path):
    run = run_playbook("lab.yml", envvars={"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"})
    assert run.rc != 0
    assert "lab: no Docker engine answers" in run.stdout
    assert "run scripts/docker-engine.sh" in run.stdout


def test_engine_bootstrap_without_root_says_what_to_do():
    # The script is fed on stdin: an unprivileged user cannot read root's temp directories.
    run = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "env",
            "DOCKER_HOST=unix:///nonexistent/docker.sock",
            "bash",
            "-s",
        ],
        input=(ROOT / "scripts" / "docker-engine.sh").read_text(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "not root" in lines[0], run.stderr


def test_service_image_pulled_by_digest_runs_the_4gpu_script_on_the_multi_gpu_node(lab, workload_digests, tmp_path):
    from workload_inputs import make_inputs

    node = f"{LAB['lab_name']}-gpu-node-2"
    image, audio = make_inputs(tmp_path)
    docker("exec", node, "mkdir", "-p", "/srv/test-inputs")
    for path in (image, audio):
        docker("cp", str(path), f"{node}:/srv/test-inputs/{path.name}")
    reference = f"{LAB['lab_registry']}/liveavatar/live-avatar@{workload_digests['v1.0']}"
    run = docker(
        "exec",
        node,
        "docker",
        "run",
        "--rm",
        "-e",
        "MODEL_LOAD_SECONDS=0",
        "-v",
        "/srv/test-inputs:/inputs:ro",
        "-v",
        "/srv/test-out:/outputs",
        "-v",
        "/var/lib/liveavatar-sim/test:/var/lib/liveavatar-sim",
        reference,
        "run_4gpu_tpp.sh",
        "--image",
        "/inputs/ref.png",
        "--audio",
        "/inputs/voice.wav",
        "--num_clip",
        "2",
        "--infer_frames",
        "4",
        "--job_id",
        "multi",
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["version"] == "v1.0" and len(summary["gpu_peak_mib"]) == 4 and summary["clips"] == 2
    assert "# Avg bus bandwidth" in run.stdout and "Rank  3" in run.stdout
    smi = docker("exec", node, "nvidia-smi", "--query-gpu=index,memory.total", "--format=csv,noheader,nounits").stdout
    assert [line.split(", ")[1] for line in smi.strip().splitlines()] == ["24576"] * 4
