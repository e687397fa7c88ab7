"""The report is built from the release's record in the ledger alone (issue 12 item 3)."""

from __future__ import annotations

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils import ledger as lg
from ansible_collections.liveavatar.rollout.plugins.module_utils import release_report as rr

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
PLAN = {
    "event": "opened",
    "baseline": {"version": "v1.0", "digest": D1},
    "stages": [1, 2, 3],
    "steps": [5, 100],
    "bake_time": 20,
    "config_commit": "abc",
    "simulated_gpus": True,
}


def opened():
    led = lg.empty()
    led["stable"] = {"version": "v1.0", "digest": D1}
    return lg.start(led, "r1", "v1.1", D2, "t0", baseline="v1.0", opened=PLAN)


def gate(name, passed, host="gpu-node-1"):
    return {"event": "gate", "stage": "stage1", "host": host, "name": name, "passed": passed, "value": 1, "limit": 2, "baseline": None, "reason": name}


def test_two_hosts_gating_at_once_keep_both_records():
    led = opened()
    led = lg.record(led, "r1", gate("log_triage", True, "gpu-node-3"), "t1")
    led = lg.record(led, "r1", gate("log_triage", True, "gpu-node-4"), "t1")
    report = rr.build(lg.find(led, "r1"))
    assert [g["host"] for g in report["gates"]] == ["gpu-node-3", "gpu-node-4"]
    assert "event" not in report["gates"][0] and "at" not in report["gates"][0]


def test_a_promoted_release_reports_its_plan_steps_timings_and_benchmark():
    led = opened()
    led = lg.record(led, "r1", {"event": "traffic_step", "weight": 5, "verdict": "pass"}, "t2")
    led = lg.record(led, "r1", {"event": "timing", "stage": "stage1_s", "seconds": 61.5}, "t3")
    led = lg.record(led, "r1", {"event": "timing", "stage": "stage3_s", "seconds": 90.0}, "t4")
    led = lg.record(led, "r1", {"event": "benchmark", "rows": [{"metric": "clip_time_s"}]}, "t4")
    led = lg.close(led, "r1", "promoted", "t5", "all gates passed")
    report = rr.build(lg.find(led, "r1"))
    assert report["outcome"] == "promoted" and report["reason"] == "all gates passed"
    assert report["baseline"] == {"version": "v1.0", "digest": D1} and report["stages"] == [1, 2, 3] and report["config_commit"] == "abc"
    assert report["traffic_steps"] == [{"weight": 5, "verdict": "pass"}]
    assert report["timings"] == {"stage1_s": 61.5, "stage3_s": 90.0} and report["benchmark"] == [{"metric": "clip_time_s"}]
    assert report["started"] == "t0" and report["ended"] == "t5" and report["simulated_gpus"] is True
    assert report["bundle"] is None and report["promotion"] == []


def test_the_report_holds_the_release_bundle_and_each_nodes_promotion():
    led = opened()
    bundle = {"event": "bundle", "digest": D1, "weights_manifest_sha256": "ab" * 32, "config_commit": "abc", "min_driver_branch": 535}
    led = lg.record(led, "r1", bundle, "t2")
    led = lg.record(led, "r1", {"event": "promoted_node", "node": "gpu-node-3", "drained_s": 1.5, "overdue_sessions": {}}, "t3")
    report = rr.build(lg.find(led, "r1"), now="t4")
    assert report["bundle"] == {k: v for k, v in bundle.items() if k != "event"}
    assert report["promotion"] == [{"node": "gpu-node-3", "drained_s": 1.5, "overdue_sessions": {}}]


@pytest.mark.parametrize(
    ("events", "status", "outcome", "reason"),
    [
        ([{"event": "aborting", "reason": "gate x failed"}, {"event": "aborted", "reason": "gate x failed"}], "rolled_back", "aborted", "gate x failed"),
        # The LB batch failed after the reason was recorded: still an abort, never a success.
        ([{"event": "aborting", "reason": "gate y failed"}], "in_progress", "aborted", "gate y failed"),
        ([{"event": "revoked", "by": "rollback-1"}], "rolled_back", "fenced", "a rollback (rollback-1) revoked this run"),
        ([{"event": "validated", "stages": [1, 2]}], "validated", "validated (stages 1,2,3)", "all gates passed"),
        ([], "in_progress", "in_progress", ""),
    ],
)
def test_the_outcome_comes_from_the_record(events, status, outcome, reason):
    release = lg.find(opened(), "r1")
    release["events"] += [dict(e, at="t9") for e in events]
    release["status"] = status
    got = rr.build(release, now="t10")
    assert got["outcome"] == outcome and got["reason"].startswith(reason)


def test_a_release_without_a_plan_still_names_its_baseline():
    led = lg.start(lg.empty(), "r2", "v1.2", D2, "t0", baseline="v1.1")
    report = rr.build(lg.find(led, "r2"), now="t1")
    assert report["baseline"] == {"version": "v1.1", "digest": None} and report["gates"] == [] and report["ended"] == "t1"


def test_require_baseline_refuses_an_empty_fleet_and_the_stable_version_itself():
    with pytest.raises(lg.LedgerError, match="no stable version in the ledger: run playbooks/bootstrap.yml"):
        lg.require_baseline(lg.empty(), "v1.1")
    led = opened()
    with pytest.raises(lg.LedgerError, match="v1.0 is already the stable version"):
        lg.require_baseline(led, "v1.0")
    assert lg.require_baseline(led, "v1.1") == {"version": "v1.0", "digest": D1}
