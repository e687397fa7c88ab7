from __future__ import annotations

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils import logs

from helpers import real_fixture

SERVICE_LOG = [
    "[INFO] 2025-12-25 10:30:22 load_model.py:145 - Model shard loaded on GPU 0, size=5.37GB",
    "[INFO] 2025-12-25 10:30:23 load_model.py:145 - Model shard loaded on GPU 1, size=5.37GB",
    "[ERROR] 2025-12-25 10:31:10 inference_loop.py:88 - CUDA out of memory during denoising step",
    "[WARNING] 2025-12-25 10:31:11 comm.py:12 - NCCL WARN Net : Connection closed by remote peer",
    "[ERROR] 2025-12-25 10:31:12 encode.py:40 - decode error in clip 3: VAE decode failed",
]


def test_counts_and_first_occurrence_of_each_type():
    result = logs.triage(SERVICE_LOG)
    assert result["counts"] == {"oom": 1, "nccl": 1, "decode": 1}
    assert result["first"]["oom"]["line"] == 3 and "denoising" in result["first"]["oom"]["text"]
    assert not result["passed"] and result["reason"].startswith("oom: 1 (max 0), first at line 3")


def test_limits_and_extra_patterns():
    result = logs.triage(SERVICE_LOG, extra_patterns={"shard": r"shard loaded"}, max_counts={"oom": 1, "nccl": 1, "decode": "1", "shard": 2})
    assert result["passed"] and result["counts"]["shard"] == 2


def test_clean_log_passes():
    assert logs.triage(SERVICE_LOG[:2])["passed"]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("pytorch-cuda-oom-torch2-24gb.txt", "oom"),
        ("pytorch-nccl-watchdog-timeout.txt", "nccl"),
        ("nccl-warn-connection-closed-unhandled-system-error.txt", "nccl"),
        ("nccl-all-reduce-perf-2xrtx5090-fail-debug-info.txt", "nccl"),
    ],
)
def test_real_error_logs_are_counted(name, kind):
    result = logs.triage(real_fixture(name).splitlines())
    assert result["counts"][kind] >= 1 and not result["passed"]


def test_service_line_format_is_split_into_fields():
    fields = logs.parse_line(SERVICE_LOG[0])
    assert fields["level"] == "INFO" and fields["file"] == "load_model.py" and fields["line"] == 145
    assert fields["gpu"] == 0 and fields["size"] == "5.37GB" and fields["error_type"] is None
    assert logs.parse_line(SERVICE_LOG[2])["error_type"] == "oom"
    assert logs.parse_line("not a service line") is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"extra_patterns": {"x": "("}}, "does not compile"), ({"max_counts": {"nope": 1}}, "not a pattern"), ({"max_counts": {"oom": -1}}, ">= 0")],
)
def test_bad_patterns_and_limits_are_errors(kwargs, message):
    with pytest.raises(logs.LogTriageError, match=message):
        logs.triage(SERVICE_LOG, **kwargs)
