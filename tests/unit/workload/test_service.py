"""The stand-in service: determinism, versions' real differences, manifests, resume, refusal, OOM, metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import WORKLOAD
from liveavatar_sim import job, media, metrics, model, render
from liveavatar_sim.gpu import GIB, CudaOutOfMemoryError, GPUPool
from liveavatar_sim.manifest_schema import ManifestError
from prometheus_client import generate_latest


def spec(inputs, **kw):
    values = {
        "image": inputs["image"],
        "audio": inputs["audio"],
        "size": "688*368",
        "num_clip": 3,
        "infer_frames": 4,
        "sample_steps": 2,
        "output_dir": str(inputs["out"]),
        "job_id": "job-t",
    }
    values.update(kw)
    return job.JobSpec(**values)


def frames_for(version, seed=7):
    reference = np.random.default_rng(0).random((48, 64, 3)).astype(np.float32) * 255
    loudness = np.abs(np.sin(np.arange(32) / 3))
    return render.render_clip(reference, loudness, 1, 6, 3, seed, model.version_profile(version))


def psnr(a, b):
    mse = np.mean((a.astype(float) - b.astype(float)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def test_rendering_is_deterministic_for_a_seed_and_differs_across_seeds():
    assert np.array_equal(frames_for("v1.0"), frames_for("v1.0"))
    assert not np.array_equal(frames_for("v1.0", seed=7), frames_for("v1.0", seed=8))


def test_v11_batched_path_matches_v10_and_v12_is_visibly_worse():
    reference = frames_for("v1.0")
    assert psnr(reference, frames_for("v1.1")) > 50
    assert psnr(reference, frames_for("v1.2")) < 45


def test_loudness_drives_the_mouth_region():
    reference = np.full((48, 64, 3), 100, dtype=np.float32)
    quiet = render.render_clip(reference, np.zeros(4), 0, 1, 3, 1, model.version_profile("v1.0"))
    loud = render.render_clip(reference, np.ones(4), 0, 1, 3, 1, model.version_profile("v1.0"))
    mouth = (slice(None), slice(30, 37), slice(23, 41))
    assert abs(float(loud[mouth].mean()) - float(quiet[mouth].mean())) > 10


def test_v12_footprint_is_larger_and_offload_smaller():
    v10, v12 = model.version_profile("v1.0"), model.version_profile("v1.2")
    assert model.activation_bytes(704, 384, 48, v12) == 2 * model.activation_bytes(704, 384, 48, v10)
    resident = sum(sum(part.values()) for part in model.placement(1, offload_model=False))
    offloaded = sum(sum(part.values()) for part in model.placement(1, offload_model=True))
    assert resident - offloaded == pytest.approx(model.COMPONENTS_GB["t5_encoder"] + model.COMPONENTS_GB["audio_encoder"])


def test_job_writes_every_clip_and_its_checksum(inputs):
    summary = job.run_job(spec(inputs), "v1.0", GPUPool(1, 80))
    manifest = json.loads(Path(summary["manifest"]).read_text())
    assert manifest["status"] == "complete" and len(manifest["clips"]) == 3
    for clip in manifest["clips"]:
        path = os.path.join(os.path.dirname(summary["manifest"]), clip["path"])
        assert job.sha256_file(path) == clip["sha256"] and clip["version"] == "v1.0"
    assert summary["gpu_peak_gb"] > 40


def test_manifest_write_is_atomic_no_temp_left(tmp_path):
    target = tmp_path / "manifest.json"
    job.write_manifest(str(target), {"a": 1})
    job.write_manifest(str(target), {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_resume_after_sigkill_continues_after_last_intact_clip(inputs):
    env = dict(os.environ, PYTHONPATH=str(WORKLOAD), LIVEAVATAR_VERSION="v1.0", MODEL_LOAD_SECONDS="0")
    argv = [
        sys.executable,
        "-m",
        "liveavatar_sim",
        "--image",
        inputs["image"],
        "--audio",
        inputs["audio"],
        "--size",
        "688*368",
        "--num_clip",
        "6",
        "--infer_frames",
        "4",
        "--sample_steps",
        "2",
        "--output_dir",
        str(inputs["out"]),
        "--job_id",
        "job-k",
    ]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    manifest_path = inputs["out"] / "job-k" / "manifest.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if manifest_path.exists() and len(json.loads(manifest_path.read_text())["clips"]) >= 2:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    killed = json.loads(manifest_path.read_text())
    assert killed["status"] == "running" and 2 <= len(killed["clips"]) < 6
    done = len(killed["clips"])
    resumed = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert summary["resumed_from"] == done and summary["clips"] == 6
    assert f"Resuming job job-k after clip {done} of 6" in resumed.stderr


def test_torn_clip_is_regenerated(inputs):
    summary = job.run_job(spec(inputs), "v1.0", GPUPool(1, 80))
    clip = os.path.join(os.path.dirname(summary["manifest"]), "clips", "clip_0001.mp4")
    with open(clip, "r+b") as handle:
        handle.truncate(100)
    again = job.run_job(spec(inputs), "v1.0", GPUPool(1, 80))
    assert again["resumed_from"] == 1 and again["clips"] == 3


def test_another_versions_job_is_refused_untouched(inputs):
    summary = job.run_job(spec(inputs, num_clip=2), "v1.0", GPUPool(1, 80))
    before = Path(summary["manifest"]).read_text()
    with pytest.raises(ManifestError, match="written by v1.0, not v1.2"):
        job.run_job(spec(inputs, num_clip=2), "v1.2", GPUPool(1, 80))
    assert Path(summary["manifest"]).read_text() == before


@pytest.mark.parametrize(
    ("env", "limits_gb"),
    [
        ({"CUDA_MPS_PINNED_DEVICE_MEM_LIMIT": "0=20G,1=512M"}, [20.0, 0.5]),
        ({"LIVEAVATAR_GPU_MEMORY_CAP_GB": "30", "SIM_GPU_MEMORY_CAP_GB": "40"}, [30.0, 30.0]),
        ({"CUDA_MPS_PINNED_DEVICE_MEM_LIMIT": "1=10G", "LIVEAVATAR_GPU_MEMORY_CAP_GB": "30"}, [30.0, 10.0]),
        ({}, [80.0, 80.0]),
    ],
)
def test_gpu_isolation_caps_apply_per_gpu_the_smallest_winning(monkeypatch, env, limits_gb):
    for name in ("CUDA_MPS_PINNED_DEVICE_MEM_LIMIT", "LIVEAVATAR_GPU_MEMORY_CAP_GB", "SIM_GPU_MEMORY_CAP_GB", "SIM_GPU_STATE_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    pool = GPUPool.from_env(count=2)
    assert [gpu.limit / GIB for gpu in pool.gpus] == limits_gb


def test_a_malformed_mps_limit_is_refused(monkeypatch):
    monkeypatch.setenv("CUDA_MPS_PINNED_DEVICE_MEM_LIMIT", "0=20")
    with pytest.raises(ValueError, match="is not <ordinal>=<n>G or <n>M"):
        GPUPool.from_env(count=1)


def test_memory_cap_fails_like_cuda_and_leaves_no_job(inputs):
    pool = GPUPool(1, 80, cap_gb=20)
    with pytest.raises(CudaOutOfMemoryError, match=r"CUDA out of memory. Tried to allocate .* GPU 0 has a total capacity of 20.00 GiB"):
        job.run_job(spec(inputs), "v1.0", pool)
    assert not (inputs["out"] / "job-t").exists()


def test_cli_oom_logs_the_error_line_and_exits_non_zero(inputs):
    env = dict(os.environ, PYTHONPATH=str(WORKLOAD), SIM_GPU_MEMORY_CAP_GB="20", MODEL_LOAD_SECONDS="0")
    run = subprocess.run(
        [sys.executable, "-m", "liveavatar_sim", "--image", inputs["image"], "--audio", inputs["audio"], "--output_dir", str(inputs["out"])],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 4 and run.stdout == ""
    errors = [line for line in run.stderr.splitlines() if line.startswith("[ERROR]")]
    assert len(errors) == 1 and "CUDA out of memory" in errors[0] and "Traceback" not in run.stderr


def test_activation_oom_mid_job_marks_the_manifest_failed(inputs):
    pool = GPUPool(1, 44)  # weights fit (41.8 GB), the first clip's activations do not
    with pytest.raises(CudaOutOfMemoryError):
        job.run_job(spec(inputs, size="704*384", infer_frames=48, num_clip=1), "v1.2", pool)
    manifest = json.loads((inputs["out"] / "job-t" / "manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["clips"] == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"image": "/nonexistent.png"}, "reference image not found"),
        ({"audio": "/nonexistent.wav"}, "audio not found"),
        ({"size": "1024*768"}, "unsupported --size 1024*768"),
        ({"num_clip": 0}, "--num_clip must be > 0"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(inputs, change, message):
    with pytest.raises(media.InputError, match=message.replace("*", r"\*")):
        job.run_job(spec(inputs, **change), "v1.0", GPUPool(1, 80))
    assert not inputs["out"].exists()


def test_corrupt_image_and_audio_are_clear_errors(inputs, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG garbage")
    with pytest.raises(media.InputError, match="cannot be decoded"):
        media.load_image(str(bad), 64, 48)
    bad_wav = tmp_path / "bad.wav"
    bad_wav.write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(media.InputError, match="audio cannot be decoded"):
        media.load_loudness(str(bad_wav), 10)


def test_metrics_expose_latency_gpu_memory_and_error_types():
    pool = GPUPool(2, 24)
    pool.allocate(1, "weights", 3 * GIB)
    metrics.register_labels("v9.9", "canary")
    metrics.export_gpus(pool, "v9.9", "canary")
    metrics.INFERENCE_SECONDS.labels("v9.9", "canary", "ping").observe(0.02)
    text = generate_latest().decode()
    assert 'gpu_memory_used_bytes{gpu="1",track="canary",version="v9.9"} 3.221225472e+09' in text
    assert (
        'gpu_memory_total_bytes{gpu="0",track="canary",version="v9.9"} 2.5769803776e+010' in text
        or 'gpu_memory_total_bytes{gpu="0",track="canary",version="v9.9"} 2.5769803776e+10' in text
    )
    for kind in ("oom", "nccl", "decode"):
        assert f'inference_errors_total{{track="canary",type="{kind}",version="v9.9"}} 0.0' in text
    assert 'inference_duration_seconds_count{kind="ping",track="canary",version="v9.9"} 1.0' in text


def test_node_shared_gpus_refuse_a_second_instance_the_way_cuda_does_and_free_a_dead_ones_memory(tmp_path):
    """Issue 14 item 1: with SIM_GPU_SHARED the GPU is the node's; each container's state file sits beside the others'."""
    stable = GPUPool(2, 80, state_file=str(tmp_path / "stable" / "gpus.json"), shared=True)
    canary = GPUPool(2, 80, state_file=str(tmp_path / "canary" / "gpus.json"), shared=True)
    stable.allocate(0, "weights:dit", 50 * GIB)
    with pytest.raises(CudaOutOfMemoryError, match=r"GPU 0 has a total capacity of 80.00 GiB of which 30.00 GiB is free"):
        canary.allocate(0, "weights:dit", 40 * GIB)
    canary.allocate(1, "weights:dit", 40 * GIB)  # another GPU of the node is free
    stale = time.time() - 60
    os.utime(tmp_path / "stable" / "gpus.json", (stale, stale))  # the stable process was SIGKILLed: its memory is freed
    canary.allocate(0, "weights:dit", 40 * GIB)
    private = [GPUPool(1, 80, state_file=str(tmp_path / name / "gpus.json")) for name in ("x", "y")]
    for pool in private:
        pool.allocate(0, "weights:dit", 50 * GIB)  # the old per-container pools: each sees a GPU of its own
    with pytest.raises(ValueError, match="needs a state file"):
        GPUPool(1, 80, shared=True)


@pytest.mark.parametrize(("version", "passes"), [("v1.0", 4), ("v1.1", 4), ("v1.2", 12)])
def test_a_ping_waits_its_versions_passes_on_the_simulated_gpu(version, passes):
    from liveavatar_sim import ping

    waited = []
    frame = ping.ping(32, 4, model.version_profile(version), gpu_ms_per_pass=5, sleep=waited.append)
    assert ping.gpu_passes(4, model.version_profile(version)) == passes
    assert waited == [pytest.approx(passes * 0.005)]
    assert frame.shape == (1, 18, 32, 3) and frame.dtype == np.uint8


def test_a_ping_renders_the_same_frame_on_every_version_path_but_v12s_lossy_one():
    from liveavatar_sim import ping

    frames = {version: ping.frame(500, 2, model.version_profile(version)) for version in ("v1.0", "v1.1", "v1.2")}
    assert frames["v1.0"].shape == (1, 144, 256, 3), "a width over 256 is clamped"
    assert np.array_equal(frames["v1.0"], frames["v1.1"]) and not np.array_equal(frames["v1.0"], frames["v1.2"])
