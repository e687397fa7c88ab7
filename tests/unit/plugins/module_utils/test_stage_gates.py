"""Stage-run gate verdicts from exit codes, summaries and stderr: table-driven."""

from __future__ import annotations

import json

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils import stage_gates as sg

OOM = "[INFO] loading\n[ERROR] 2026-12-02 torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n"


def summary(**fields):
    return "progress 1/10\n" + json.dumps(fields) + "\n"


@pytest.mark.parametrize(
    ("run", "manifest", "passed", "reason"),
    [
        ({"rc": 0}, {"jobs": [{"intact": 10}]}, True, "10 clips intact, every checksum matches the manifest"),
        ({"rc": 1, "stderr": OOM}, {"jobs": [{"intact": 3}]}, False, "CLI exited 1: [ERROR] 2026-12-02 torch.OutOfMemoryError"),
        ({"rc": 0}, {"failed": True, "msg": "clip_0003.mp4: sha256 mismatch"}, False, "clip_0003.mp4: sha256 mismatch"),
        ({"rc": 0}, {"jobs": [{"intact": 9}]}, False, "9 of 10 clips intact"),
        ({"rc": 0}, {}, False, "0 of 10 clips intact"),
        ({"rc": 137, "stderr": "Killed"}, {"failed": True, "msg": "no manifest"}, False, "CLI exited 137: Killed"),
    ],
)
def test_cli_clips(run, manifest, passed, reason):
    result = sg.cli_clips(run, manifest)
    assert result["passed"] is passed and result["reason"].startswith(reason)
    assert result["limit"] == 10 and [c["check"] for c in result["checks"]] == ["exit code", "manifest", "clips intact"]


@pytest.mark.parametrize(
    ("run", "limit", "passed", "value", "reason"),
    [
        ({"rc": 0, "stdout": summary(gpu_peak_gb=68.4)}, 72, True, 68.4, "peak GPU memory 68.4 GB (limit 72.0 GB)"),
        ({"rc": 0, "stdout": summary(gpu_peak_gb=72.0)}, 72, True, 72.0, "peak GPU memory 72.0 GB"),
        ({"rc": 0, "stdout": summary(gpu_peak_gb=75.1)}, 72, False, 75.1, "peak GPU memory 75.1 GB (limit 72.0 GB)"),
        ({"rc": 1, "stdout": "", "stderr": OOM}, 72, False, None, "boundary run exited 1: [ERROR]"),
        ({"rc": 0, "stdout": "no json here\n"}, 72, False, None, "boundary run printed no summary"),
        ({"rc": 0, "stdout": summary(clips=10)}, 72, False, None, "boundary run printed no summary"),
        ({"rc": 0, "stdout": "[1, 2]\n"}, 72, False, None, "boundary run printed no summary"),
    ],
)
def test_boundary_vram(run, limit, passed, value, reason):
    result = sg.boundary_vram(run, limit)
    assert (result["passed"], result["value"]) == (passed, value) and result["reason"].startswith(reason)


@pytest.mark.parametrize(
    ("run", "passed", "reason"),
    [
        ({"rc": 0, "stdout": summary(passed=True, seconds=4.2, reason="video decoded: 10 clips")}, True, "video decoded"),
        ({"rc": 0, "stdout": summary(passed=False, reason="download returned 404")}, False, "download returned 404"),
        ({"rc": 1, "stdout": summary(passed=False, reason="upload refused")}, False, "web flow exited 1: upload refused"),
        ({"rc": 2, "stdout": "", "stderr": "Traceback\nConnectionRefusedError"}, False, "web flow exited 2: Traceback ConnectionRefusedError"),
        ({"rc": 0, "stdout": ""}, False, "web flow printed no verdict"),
        ({"rc": 0, "stdout": summary(passed="yes")}, False, "web flow printed no verdict"),
    ],
)
def test_web_flow(run, passed, reason):
    result = sg.web_flow(run)
    assert result["passed"] is passed and result["reason"].startswith(reason)


def test_multi_gpu_script_names_the_first_failed_run():
    runs = [
        {"role": "baseline", "version": "v1.0", "rc": 0, "stderr": ""},
        {"role": "candidate", "version": "v1.2", "rc": 1, "stderr": "[INFO] rank 3\n[ERROR] NCCL WARN Net : Connection closed"},
        {"role": "baseline", "version": "v1.0", "rc": 0, "stderr": ""},
        {"role": "candidate", "version": "v1.2", "rc": 134, "stderr": "aborted"},
    ]
    result = sg.multi_gpu_script(runs)
    assert result["passed"] is False and result["value"] == [0, 1, 0, 134] and result["limit"] == [0, 0, 0, 0]
    assert result["reason"] == "candidate v1.2 exited 1: [ERROR] NCCL WARN Net : Connection closed"
    assert sg.multi_gpu_script(runs[:1] + runs[2:3])["reason"] == "both runs completed"
    assert sg.multi_gpu_script([runs[0]] * 6)["reason"] == "all 6 runs completed"


@pytest.mark.parametrize(
    ("candidate", "limit", "passed"),
    [([60000, 61000, 59000, 60500], 81920, True), ([60000, 81921, 59000, 60500], 81920, False), ([81920], 81920, True)],
)
def test_gpu_memory_peak(candidate, limit, passed):
    result = sg.gpu_memory_peak(candidate, limit, [50000] * len(candidate))
    assert result["passed"] is passed and len(result["checks"]) == len(candidate)
    assert result["reason"].startswith("per-GPU peaks " + "/".join(str(c) for c in candidate))


XID = {"alertname": "GpuXidError", "severity": "critical", "version": "v1.2"}


@pytest.mark.parametrize(
    ("alerts", "passed", "reason"),
    [
        ([], True, "no critical alert firing (0 alert(s) read)"),
        ([{"labels": {"alertname": "CanaryLatencyHigh", "severity": "warning"}, "state": "firing"}], True, "no critical alert firing (1"),
        ([{"labels": XID, "state": "pending"}], True, "no critical alert firing (1"),
        ([{"labels": XID, "state": "firing"}], False, "critical alert firing: GpuXidError (v1.2)"),
        ([XID, {"alertname": "LiveAvatarDown", "severity": "critical"}], False, "critical alert firing: GpuXidError (v1.2), LiveAvatarDown"),
    ],
)
def test_critical_alerts(alerts, passed, reason):
    result = sg.judge("critical_alerts", alerts=alerts)
    assert result["passed"] is passed and result["reason"].startswith(reason), result
    assert result["value"] == (0 if passed else len(result["checks"]))


@pytest.mark.parametrize(
    ("gate", "inputs", "message"),
    [
        ("gpu_memory_peak", {"candidate_mib": [], "limit_mib": 1}, "no per-GPU memory peaks"),
        ("gpu_memory_peak", {"candidate_mib": ["lots"], "limit_mib": 1}, "candidate peak 'lots' is not a number"),
        ("boundary_vram", {"run": {"rc": 0, "stdout": summary(gpu_peak_gb="nan")}, "limit_gb": 72}, "not a finite number"),
        ("multi_gpu_script", {"runs": []}, "no runs of the multi-GPU script"),
        ("cli_clips", {"run": {"rc": 0}}, "gate cli_clips needs manifest"),
        ("psnr", {}, "gate 'psnr' is not one of"),
        ("critical_alerts", {}, "gate critical_alerts needs alerts"),
        ("critical_alerts", {"alerts": ["GpuXidError"]}, "alert 'GpuXidError' is not a mapping"),
    ],
)
def test_input_a_gate_cannot_judge_raises(gate, inputs, message):
    with pytest.raises(sg.StageGateError, match=message.replace("(", r"\(").replace("'", "'")):
        sg.judge(gate, **inputs)
