"""The gate modules' real main(): arguments in, exit JSON out, check mode, one-line failures."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.liveavatar.rollout.plugins.modules import benchmark_gate, canary_judge, gpu_facts, log_triage, nccl_check, stage_gate

from helpers import real_fixture, run_module

BASELINE = {"version": "v1.0", "metrics": {"clip_time_s": 10.0, "vram_peak_gb": 70.0, "nccl_latency_us": 800.0, "psnr_db": 35.0}}


@pytest.mark.parametrize("check_mode", [False, True])
def test_benchmark_gate_reports_failure_without_failing_the_task(capsys, check_mode):
    candidate = dict(BASELINE["metrics"], clip_time_s=12.0)
    result, code = run_module(benchmark_gate.main, {"baseline": BASELINE, "candidate": candidate}, capsys, check_mode)
    assert code == 0 and result["changed"] is False and result["passed"] is False
    assert result["reason"].startswith("benchmark gate failed: clip_time_s 12")
    assert "| clip_time_s | 10.0 | 12.0 | 11.0 |" in result["table"] and result["baseline_version"] == "v1.0"


def test_benchmark_gate_reads_a_baseline_file(capsys, tmp_path):
    path = tmp_path / "v1.0.json"
    path.write_text(json.dumps(BASELINE))
    result, code = run_module(benchmark_gate.main, {"baseline_file": str(path), "candidate": BASELINE["metrics"]}, capsys)
    assert code == 0 and result["passed"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"baseline_file": "/nonexistent/v1.0.json"}, "cannot read baseline file"),
        ({"baseline": {"version": "v1.0", "metrics": {"clip_time_s": "fast"}}}, "not a finite number"),
        ({"baseline": BASELINE, "tolerances": {"psnr_db": {"direction": "sideways"}}}, "direction must be"),
    ],
)
def test_benchmark_gate_bad_input_is_one_line(capsys, args, message):
    result, code = run_module(benchmark_gate.main, {"candidate": BASELINE["metrics"], **args}, capsys)
    assert code == 1 and result["failed"] and message in result["msg"] and "\n" not in result["msg"]


def test_canary_judge_inline_samples_and_critical_alert(capsys):
    steady = [1.0, 1.1, 0.9, 1.0, 1.05, 0.95, 1.0, 1.02]
    args = {"metrics": [{"name": "latency", "canary": steady, "baseline": list(reversed(steady)), "critical": True}]}
    result, code = run_module(canary_judge.main, args, capsys, check_mode=True)
    assert code == 0 and result["verdict"] == "pass" and result["changed"] is False
    alert = {"labels": {"alertname": "GPUMemoryHigh", "severity": "critical"}, "state": "firing"}
    result, _code = run_module(canary_judge.main, dict(args, firing_alerts=[alert]), capsys)
    assert result["verdict"] == "fail" and result["reason"].startswith("critical alert firing: GPUMemoryHigh")


def test_canary_judge_without_samples_or_prometheus_fails_clearly(capsys):
    args = {"metrics": [{"name": "latency", "canary_query": "up", "baseline": [1, 2, 3]}]}
    result, code = run_module(canary_judge.main, args, capsys)
    assert code == 1 and "needs prometheus_url, start and end" in result["msg"]
    result, code = run_module(canary_judge.main, {"metrics": [{"name": "latency", "baseline": [1, 2, 3]}]}, capsys)
    assert code == 1 and "neither canary samples nor canary_query" in result["msg"]


def test_canary_judge_unreachable_prometheus_is_one_line(capsys):
    args = {
        "metrics": [{"name": "l", "canary_query": "up", "baseline_query": "up"}],
        "prometheus_url": "http://127.0.0.1:9",
        "start": "0",
        "end": "60",
        "timeout": 2,
    }
    result, code = run_module(canary_judge.main, args, capsys)
    assert code == 1 and result["msg"].startswith("canary_judge: Prometheus query failed")


def test_nccl_check_parses_given_text(capsys):
    args = {"output": real_fixture("nccl-all-reduce-perf-1node-8xh100.txt"), "max_latency_us": 700, "min_busbw": 400}
    result, code = run_module(nccl_check.main, args, capsys, check_mode=True)
    assert code == 0 and result["passed"] and result["latency_us"] == 613.3 and result["nranks"] == 8


def test_nccl_check_runs_the_binary_and_quotes_the_failure(capsys, tmp_path):
    binary = tmp_path / "all_reduce_perf"
    failure = real_fixture("nccl-warn-connection-closed-unhandled-system-error.txt")
    binary.write_text("#!/bin/sh\ncat <<'OUT'\n" + failure + "\nOUT\nexit 1\n")
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    result, code = run_module(nccl_check.main, {"command": [str(binary), "-g", "2"], "max_latency_us": 100}, capsys)
    assert code == 0 and result["passed"] is False and "'unhandled system error'" in result["reason"]


def test_nccl_check_missing_binary_fails(capsys):
    result, code = run_module(nccl_check.main, {"command": ["all_reduce_perf_not_installed"]}, capsys)
    assert code == 1 and "all_reduce_perf_not_installed" in result["msg"]


def test_gpu_facts_from_given_output(capsys):
    result, code = run_module(gpu_facts.main, {"output": real_fixture("nvidia-smi-query-rtx2060.csv")}, capsys)
    assert code == 0 and result["ansible_facts"]["liveavatar_gpus"]["count"] == 1
    assert result["ansible_facts"]["liveavatar_gpus"]["gpus"][0]["memory_total_mib"] == 5934


def test_gpu_facts_on_a_host_without_nvidia_smi_says_why(capsys, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    result, code = run_module(gpu_facts.main, {"nvidia_smi": "nvidia-smi-absent"}, capsys)
    assert code == 1 and "is not installed on this host" in result["msg"]


def test_gpu_facts_driver_failure_is_quoted(capsys, tmp_path):
    fake = tmp_path / "nvidia-smi"
    fake.write_text('#!/bin/sh\necho "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver."\nexit 9\n')
    fake.chmod(0o755)
    result, code = run_module(gpu_facts.main, {"nvidia_smi": str(fake)}, capsys)
    assert code == 1 and result["msg"].startswith("gpu_facts: nvidia-smi exited 9: NVIDIA-SMI has failed")


def test_log_triage_reads_files(capsys, tmp_path):
    log = tmp_path / "service.log"
    log.write_text("[ERROR] 2025-12-25 10:31:10 inference_loop.py:88 - CUDA out of memory during denoising step\n")
    result, code = run_module(log_triage.main, {"paths": [str(log)]}, capsys)
    assert code == 0 and result["counts"]["oom"] == 1 and not result["passed"]
    result, code = run_module(log_triage.main, {"paths": [os.path.join(str(tmp_path), "absent.log")]}, capsys)
    assert code == 1 and "cannot read" in result["msg"]


@pytest.mark.parametrize("check_mode", [False, True])
def test_stage_gate_reports_a_failed_run_without_failing_the_task(capsys, check_mode):
    run = {"rc": 1, "stdout": "", "stderr": "[ERROR] CUDA out of memory"}
    result, code = run_module(stage_gate.main, {"gate": "boundary_vram", "run": run, "limit_gb": 72}, capsys, check_mode)
    assert code == 0 and result["changed"] is False and result["passed"] is False
    assert result["reason"] == "boundary run exited 1: [ERROR] CUDA out of memory" and result["limit"] == 72.0


def test_stage_gate_without_its_inputs_fails_in_one_line(capsys):
    result, code = run_module(stage_gate.main, {"gate": "gpu_memory_peak", "candidate_mib": [], "limit_mib": 81920}, capsys)
    assert code == 1 and result["msg"] == "stage_gate gpu_memory_peak: the candidate's run reported no per-GPU memory peaks"


def test_stage_gate_fails_a_step_on_the_critical_alerts_it_is_given_as_prometheus_returns_them(capsys):
    alerts = [
        {"labels": {"alertname": "CanaryLatencyAboveStable", "severity": "critical", "version": "v1.2"}, "state": "firing"},
        {"labels": {"alertname": "GpuMemoryHigh", "severity": "warning"}, "state": "firing"},
    ]
    result, code = run_module(stage_gate.main, {"gate": "critical_alerts", "alerts": alerts}, capsys, check_mode=True)
    assert code == 0 and result["passed"] is False and result["reason"] == "critical alert firing: CanaryLatencyAboveStable (v1.2)"
    result, code = run_module(stage_gate.main, {"gate": "critical_alerts", "alerts": alerts[1:]}, capsys)
    assert code == 0 and result["passed"] is True
    result, code = run_module(stage_gate.main, {"gate": "critical_alerts"}, capsys)
    assert code == 1 and "alerts" in result["msg"] and "\n" not in result["msg"]


def test_rollout_inputs_module_normalises_or_refuses_in_one_line(capsys):
    from ansible_collections.liveavatar.rollout.plugins.modules import rollout_inputs

    result, code = run_module(rollout_inputs.main, {"version": "v1.2", "steps": "5,100", "stages": "3"}, capsys)
    assert code == 0 and result["changed"] is False and result["inputs"]["steps"] == [5, 100] and result["inputs"]["stages"] == [3]
    result, code = run_module(rollout_inputs.main, {"version": "v1.2", "steps": [1]}, capsys)
    assert code == 1 and result["msg"].startswith("rollout: steps [1] must be integers in 1-100") and result["msg"].endswith("nothing was changed")
