from __future__ import annotations

import math

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils import nccl

from helpers import real_fixture

SIZE_128M = 134217728


def parse(name):
    return nccl.parse_all_reduce(real_fixture(name))


def test_single_node_8xh100_table_and_average():
    parsed = parse("nccl-all-reduce-perf-1node-8xh100.txt")
    assert parsed["nranks"] == 8 and parsed["hosts"] == ["node005"]
    assert [r["size"] for r in parsed["rows"]] == [134217728 * 2**i for i in range(6)]
    last = parsed["rows"][-1]
    assert last["out_of_place"] == {"time_us": 15870.0, "algbw": 270.63, "busbw": 473.60, "wrong": 0}
    assert last["in_place"]["busbw"] == 476.53
    assert parsed["avg_busbw"] == 439.369 and parsed["out_of_bounds"] == 0
    result = nccl.evaluate(parsed, SIZE_128M, max_latency_us=700, min_busbw=400)
    assert result["passed"] and not result["inconclusive"]


def test_latency_over_limit_fails_with_the_numbers():
    parsed = parse("nccl-all-reduce-perf-1node-8xh100.txt")
    result = nccl.evaluate(parsed, SIZE_128M, max_latency_us=600)
    assert not result["passed"]
    assert "613.3 us" in result["reason"] and "600" in result["reason"]


def test_in_place_column_is_used_when_asked():
    parsed = parse("nccl-all-reduce-perf-1node-8xh100.txt")
    assert nccl.latency_at(parsed, SIZE_128M, "in_place") == 614.3
    assert nccl.latency_at(parsed, SIZE_128M) == 613.3


def test_two_node_ib_run_with_mpi_noise_and_version_line():
    parsed = parse("nccl-all-reduce-perf-2node-16xh100-ib.txt")
    assert parsed["nranks"] == 16 and parsed["hosts"] == ["bm-h100-01", "bm-h100-02"]
    assert parsed["nccl_version"] == "2.26.2+cuda12.8"
    assert parsed["rows"][0]["size"] == 8 and parsed["rows"][-1]["size"] == 17179869184
    assert len(parsed["rows"]) == 32 and parsed["avg_busbw"] == 139.56
    assert max(r[p]["busbw"] for r in parsed["rows"] for p in nccl.PLACEMENTS) == 469.21


def test_two_node_roce_full_sweep():
    parsed = parse("nccl-all-reduce-perf-2node-16xa100-40gb-roce.txt")
    assert parsed["nranks"] == 16 and len(parsed["rows"]) == 31
    assert parsed["avg_busbw"] == 66.4834
    assert max(r["out_of_place"]["busbw"] for r in parsed["rows"] + []) <= 237.94
    assert nccl.evaluate(parsed, SIZE_128M, min_busbw=100)["passed"] is False


def test_single_rank_zero_busbw_is_inconclusive_not_pass_not_fail():
    parsed = parse("nccl-all-reduce-perf-1xrtx5090-busbw-zero.txt")
    assert parsed["nranks"] == 1 and parsed["avg_busbw"] == 0
    result = nccl.evaluate(parsed, SIZE_128M, min_busbw=10)
    assert result["passed"] is False and result["inconclusive"] is True
    assert "single-rank" in result["reason"]


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("nccl-all-reduce-perf-2xrtx5090-fail-debug-info.txt", "NCCL WARN Cuda failure 1 'invalid argument'"),
        ("nccl-all-reduce-perf-128node-h100-fail-midrun.txt", "Test NCCL failure common.cu:1204"),
        ("nccl-tests-failure-cuda-system-not-initialized-h100x8.txt", "'system not yet initialized'"),
        ("nccl-warn-connection-closed-unhandled-system-error.txt", "'unhandled system error'"),
    ],
)
def test_failed_runs_fail_with_the_error_quoted(name, quoted):
    parsed = parse(name)
    result = nccl.evaluate(parsed, SIZE_128M, max_latency_us=1e9, min_busbw=0)
    assert result["passed"] is False and result["inconclusive"] is False
    assert quoted in result["reason"]


def test_midrun_failure_keeps_the_good_rows_but_fails():
    parsed = parse("nccl-all-reduce-perf-128node-h100-fail-midrun.txt")
    assert len(parsed["rows"]) == 5 and parsed["avg_busbw"] is None


def test_warnings_alone_are_recorded_not_errors():
    text = real_fixture("nccl-all-reduce-perf-2xrtx5090-fail-debug-info.txt")
    parsed = nccl.parse_all_reduce(text)
    assert any("Could not find a path" in w for w in parsed["warnings"])
    assert not any("Could not find a path" in e for e in parsed["errors"])


HEADER = """# nThread 1 nGpus 4 minBytes 8 maxBytes 1024 step: 2(factor) warmup iters: 5 iters: 20 agg iters: 1 validation: 1 graph: 0
#  Rank  0 Group  0 Pid   1 on node device  0 [0x01] Simulated GPU
#  Rank  1 Group  0 Pid   1 on node device  1 [0x02] Simulated GPU
"""


def test_wrong_results_fail():
    text = HEADER + "        1024           256     float     sum      -1    10.00    0.10    0.15      3    10.00    0.10    0.15      0\n"
    result = nccl.evaluate(nccl.parse_all_reduce(text), 1024, max_latency_us=100)
    assert not result["passed"] and "wrong results" in result["reason"]


def test_truncated_table_without_rows_fails():
    result = nccl.evaluate(nccl.parse_all_reduce(HEADER + "#       size  count\n"), 1024, max_latency_us=100)
    assert not result["passed"] and "no result rows" in result["reason"]


def test_missing_average_line_fails_bandwidth_gate():
    text = HEADER + "        1024           256     float     sum      -1    10.00    0.10    0.15      0    10.00    0.10    0.15      0\n"
    result = nccl.evaluate(nccl.parse_all_reduce(text), 1024, min_busbw=0.1)
    assert not result["passed"] and "did not finish" in result["reason"]


def test_size_not_in_table_fails_and_names_the_range():
    text = HEADER + "        1024           256     float     sum      -1    10.00    0.10    0.15      0    10.00    0.10    0.15      0\n"
    result = nccl.evaluate(nccl.parse_all_reduce(text), 2048, max_latency_us=100)
    assert not result["passed"] and "2048 B is not in the table (1024..1024 B)" in result["reason"]


def test_old_format_without_root_column_and_nan_time():
    text = HEADER + "        1024           256     float     sum    nan    0.10    0.15  0e+00    10.00    0.10    0.15  0e+00\n"
    parsed = nccl.parse_all_reduce(text)
    assert parsed["rows"][0]["root"] is None and math.isnan(parsed["rows"][0]["out_of_place"]["time_us"])
    assert nccl.evaluate(parsed, 1024, max_latency_us=100)["passed"] is False


@pytest.mark.parametrize("text", ["", "   \n", "hello world\nnot nccl\n"])
def test_not_nccl_output_is_an_error(text):
    with pytest.raises(nccl.NcclParseError):
        nccl.parse_all_reduce(text)
