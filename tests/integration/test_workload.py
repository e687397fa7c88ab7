"""The v1.0 image of the stand-in service, run on the local engine: Gradio flow, CLI of 10 clips, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request

import pytest
from workload_inputs import cli_in_container, make_inputs

from lab_runner import ROOT

IMAGE = "liveavatar/live-avatar:v1.0"
CONTAINER = "liveavatar-test-workload"
PORT = 17860


def docker(*args, check=True, timeout=300):
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=timeout)


@pytest.fixture(scope="module")
def workload(tmp_path_factory):
    build = subprocess.run([str(ROOT / "lab/workload/build.sh"), "v1.0"], capture_output=True, text=True, timeout=1800, check=False)
    assert build.returncode == 0, build.stderr[-3000:]
    work = tmp_path_factory.mktemp("workload")
    image, audio = make_inputs(work / "inputs")
    docker("rm", "-f", CONTAINER, check=False)
    docker("run", "-d", "--name", CONTAINER, "-p", f"127.0.0.1:{PORT}:7860", "-e", "MODEL_LOAD_SECONDS=2", "-v", f"{work / 'inputs'}:/inputs:ro", IMAGE)
    deadline = time.monotonic() + 60
    status = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health", timeout=2) as response:
                status = response.status
                break
        except OSError:
            time.sleep(0.5)
    assert status == 200, docker("logs", CONTAINER, check=False).stderr[-2000:]
    yield {"work": work, "image": image, "audio": audio}
    docker("rm", "-f", CONTAINER, check=False)


def test_gradio_flow_upload_submit_download_decode(workload, monkeypatch):
    import imageio.v3 as iio
    from gradio_client import Client, handle_file

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    client = Client(f"http://127.0.0.1:{PORT}/", analytics_enabled=False, verbose=False, download_files=str(workload["work"] / "dl"))
    result = client.predict(handle_file(str(workload["image"])), handle_file(str(workload["audio"])), "talking", "688*368", 2, 8, api_name="/generate")
    path = result["video"] if isinstance(result, dict) else result
    frames = iio.imread(path, index=None)
    assert frames.shape == (8, 368, 688, 3)


def test_health_ping_and_metrics(workload):
    with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/api/ping") as response:
        assert response.headers["X-Served-Version"] == "v1.0"
        assert json.loads(response.read())["version"] == "v1.0"
    with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/metrics") as response:
        text = response.read().decode()
    assert 'inference_duration_seconds_count{kind="ping",track="stable",version="v1.0"}' in text
    assert 'gpu_memory_used_bytes{gpu="0",track="stable",version="v1.0"}' in text
    assert 'inference_errors_total{track="stable",type="oom",version="v1.0"} 0.0' in text


def test_cli_ten_clips_every_file_matches_the_manifest(workload):
    out = workload["work"] / "out"
    out.mkdir()
    cli = [
        "--image",
        "/inputs/ref.png",
        "--audio",
        "/inputs/voice.wav",
        "--size",
        "688*368",
        "--num_clip",
        "10",
        "--infer_frames",
        "4",
        "--sample_steps",
        "2",
        "--job_id",
        "cli-10",
        "--offload_model",
        "False",
    ]
    run = docker(*cli_in_container(IMAGE, out, cli, inputs_dir=workload["work"] / "inputs")[1:], check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout.strip().splitlines()[-1])["clips"] == 10
    check = subprocess.run(
        [str(ROOT / ".venv/bin/ansible"), "localhost", "-m", "liveavatar.rollout.clip_manifest", "-a", f"root={out} state=validated", "-o"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg")),
        timeout=120,
        check=False,
    )
    assert check.returncode == 0 and '"intact": 10' in check.stdout, check.stdout + check.stderr


def test_cli_bad_input_is_one_error_and_no_manifest(workload):
    out = workload["work"] / "bad"
    out.mkdir()
    cli = ["--image", "/nope.png", "--audio", "/nope.wav", "--job_id", "bad"]
    run = docker(*cli_in_container(IMAGE, out, cli, env=())[1:], check=False)
    assert run.returncode == 2
    assert [line for line in run.stderr.splitlines() if line.startswith("[ERROR]")] == [
        next(line for line in run.stderr.splitlines() if "reference image not found: /nope.png" in line)
    ]
    assert list(out.iterdir()) == []


def test_memory_cap_20gb_exits_cleanly_with_the_cuda_error(workload):
    run = docker("run", "--rm", "-e", "SIM_GPU_MEMORY_CAP_GB=20", "-e", "MODEL_LOAD_SECONDS=0", IMAGE, check=False, timeout=120)
    assert run.returncode == 4
    assert "CUDA out of memory" in run.stderr and "Traceback" not in run.stderr
