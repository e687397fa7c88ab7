# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A rollout's report, built from its release in the ledger alone (the events its plays recorded there).

Events: `opened` (the plan), `gate`, `traffic_step`, `timing`, `benchmark`, `aborted`, `revoked`, `validated`.
"""

from __future__ import annotations

_PLAN_KEYS = ("baseline", "stages", "steps", "bake_time", "config_commit", "simulated_gpus")


def _events(release, kind):
    return [{k: v for k, v in e.items() if k not in ("event", "at")} for e in release.get("events", []) if e.get("event") == kind]


def outcome(release):
    """(outcome, reason): promoted, validated (stages ...), aborted, fenced (a rollback revoked the run) or in_progress."""
    status = release.get("status")
    plan = (_events(release, "opened") or [{}])[0]
    aborted = _events(release, "aborted") or _events(release, "aborting")
    if status == "promoted":
        return "promoted", release.get("reason") or "all gates passed"
    if status == "validated":
        return "validated (stages " + ",".join(str(s) for s in plan.get("stages", [])) + ")", release.get("reason") or "all gates passed"
    if aborted:
        return "aborted", aborted[-1].get("reason") or "unknown failure"
    revoked = [e for e in release.get("events", []) if e.get("event") == "revoked"]
    if revoked:
        return "fenced", f"a rollback ({revoked[-1].get('by')}) revoked this run at {revoked[-1].get('at')}; it stopped without touching the fleet"
    return status or "in_progress", release.get("reason") or ""


def build(release, now=None):
    """The report dict that report.json holds and report.md renders."""
    plan = (_events(release, "opened") or [{}])[0]
    result, reason = outcome(release)
    timings = {}
    for timing in _events(release, "timing"):
        timings[timing["stage"]] = timing["seconds"]
    benchmarks = _events(release, "benchmark")
    last_at = (release.get("events") or [{}])[-1].get("at")
    report = {
        "version": release["version"],
        "digest": release["digest"],
        "run_id": release["run_id"],
        "outcome": result,
        "reason": reason,
        "started": release.get("started"),
        "ended": release.get("ended") or now or last_at,
        "gates": _events(release, "gate"),
        "benchmark": benchmarks[-1]["rows"] if benchmarks else [],
        "traffic_steps": _events(release, "traffic_step"),
        "timings": timings,
        # What a rollback restores as one: image digest, weights manifest, configuration commit, driver branch.
        "bundle": (_events(release, "bundle") or [None])[-1],
        "promotion": _events(release, "promoted_node"),
    }
    report.update({key: plan.get(key) for key in _PLAN_KEYS})
    if report["baseline"] is None:
        report["baseline"] = {"version": release.get("baseline"), "digest": None}
    report["simulated_gpus"] = bool(report["simulated_gpus"])
    return report
