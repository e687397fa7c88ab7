"""Grafana's dashboards and the log shipper's patterns, checked without a server."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from pathlib import Path

import pytest

from ansible_collections.liveavatar.rollout.plugins.filter.log_line_patterns import log_line_patterns
from ansible_collections.liveavatar.rollout.plugins.module_utils.logs import parse_line, parse_line_positional, shipper_patterns

from helpers import real_fixture

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "roles/grafana/files/dashboards").glob("*.json"))
# Metrics and rules the dashboards may query: what the service, HAProxy, Telegraf and the prometheus role's rules export.
KNOWN_METRICS = {
    "inference_duration_seconds_sum",
    "inference_duration_seconds_count",
    "inference_errors_total",
    "clips_generated_total",
    "gpu_memory_used_bytes",
    "model_ready",
    "haproxy_server_weight",
    "haproxy_server_http_responses_total",
    "nvidia_smi_utilization_gpu",
    "nvidia_smi_temperature_gpu",
    "ALERTS",
    "liveavatar:gpu_memory_used:percent",
}
IDENT_RE = re.compile(r"(?<![A-Za-z0-9_:])[A-Za-z_:][A-Za-z0-9_:]*(?![A-Za-z0-9_:])(?!\s*\()")
PROMQL_WORDS = {"by", "on", "and", "or", "unless", "without", "ignoring", "group_left", "group_right", "sum", "max", "min", "avg", "count"}


def metrics_in(expr):
    """Metric names of a PromQL expression: label matchers, grouping lists, ranges and function names left out."""
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\b(?:by|on|without|ignoring)\s*\([^)]*\)|\b[A-Za-z_]+\s*\(|\d+(?:\.\d+)?", " ", expr)
    return {m for m in IDENT_RE.findall(bare) if m not in PROMQL_WORDS}


@pytest.mark.parametrize("path", DASHBOARDS, ids=[p.stem for p in DASHBOARDS])
def test_dashboard_has_a_version_variable_and_panels_that_query_known_metrics(path):
    dashboard = json.loads(path.read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["version"]["multi"] and variables["version"]["includeAll"]
    assert dashboard["panels"], f"{path.name} has no panels"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "liveavatar-prometheus"
        for target in panel["targets"]:
            used = metrics_in(target["expr"])
            assert used and used <= KNOWN_METRICS, f"{path.name} '{panel['title']}' queries {used - KNOWN_METRICS}"
            assert target["expr"].count("(") == target["expr"].count(")")


def test_metrics_in_reads_names_not_labels_or_functions():
    expr = 'sum by (version, track) (rate(inference_duration_seconds_sum{version=~"$version"}[5m])) / on () nvidia_smi_utilization_gpu'
    assert metrics_in(expr) == {"inference_duration_seconds_sum", "nvidia_smi_utilization_gpu"}


def test_the_three_concerns_have_their_panels():
    titles = {json.loads(p.read_text())["uid"]: [panel["title"] for panel in json.loads(p.read_text())["panels"]] for p in DASHBOARDS}
    assert set(titles) == {"liveavatar-gpu", "liveavatar-inference", "liveavatar-rollout"}
    assert any("GPU memory" in t for t in titles["liveavatar-gpu"])
    assert any("latency" in t for t in titles["liveavatar-inference"]) and any("Errors" in t for t in titles["liveavatar-inference"])
    assert any("weight" in t for t in titles["liveavatar-rollout"]) and any("Alerts" in t for t in titles["liveavatar-rollout"])


def service_lines():
    """Lines written by the lab service's own logger (lab/workload/liveavatar_sim/logs.py)."""
    sys.path.insert(0, str(ROOT / "lab/workload"))
    from liveavatar_sim import logs as sim_logs

    stream = io.StringIO()
    log = sim_logs.setup(stream=stream)
    log.info("Model shard loaded on GPU %d, size=%.2fGB", 2, 28.15)
    log.warning("Clip %s took %.1f s", "clip-0003", 12.5)
    log.error("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 20.00 GiB total capacity)")
    log.error("NCCL WARN Connection closed by remote peer")
    log.error("VAE decode failed on frame %d", 41)
    logging.getLogger().handlers[:] = []
    return stream.getvalue().splitlines()


def test_shipper_patterns_split_the_services_lines_as_log_triage_does():
    patterns = log_line_patterns({})
    lines = service_lines()
    assert len(lines) == 5
    for line in lines:
        fields = parse_line(line)
        assert fields is not None and parse_line_positional(line, patterns) == fields, line
    fields = [parse_line_positional(line, patterns) for line in lines]
    assert (fields[0]["gpu"], fields[0]["size"], fields[0]["error_type"]) == (2, "28.15GB", None)
    assert [f["error_type"] for f in fields[2:]] == ["oom", "nccl", "decode"]


def test_shipper_patterns_on_real_error_lines_wrapped_in_the_services_format():
    patterns = shipper_patterns()
    for name, expected in (("pytorch-cuda-oom-torch2-24gb.txt", "oom"), ("nccl-warn-connection-closed-unhandled-system-error.txt", "nccl")):
        message = next(line for line in real_fixture(name).splitlines() if re.search(patterns["errors"][expected], line))
        fields = parse_line_positional(f"[ERROR] 2026-11-26 05:00:00 infinite_inference.py:210 - {message.strip()}", patterns)
        assert fields["error_type"] == expected, message


def test_patterns_have_no_named_groups_and_a_field_per_group():
    patterns = shipper_patterns()
    assert "(?P<" not in patterns["line"]
    assert re.compile(patterns["line"]).groups == len(patterns["line_fields"]) == 6
