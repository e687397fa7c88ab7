# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verdicts of the stage-1 and stage-2 run gates, from what the runs printed. Pure Python.

Each gate returns {passed, reason, value, limit, baseline, checks}: the shape of every other gate, so the
release record and the report read them alike. The runs are the service's CLI (10 clips), the boundary run,
the Gradio web flow and the multi-GPU script; their last stdout line is a JSON summary, and an error is a
line that starts with ``[ERROR]`` on stderr.
"""

from __future__ import annotations

import json
import math

GATES = ("cli_clips", "boundary_vram", "web_flow", "multi_gpu_script", "gpu_memory_peak", "critical_alerts")


class StageGateError(ValueError):
    """Input a gate cannot judge (a missing field, a value that is not a number)."""


def first_error_line(stderr, tail=300):
    """The first ``[ERROR]`` line of stderr, else its last ``tail`` characters (one line)."""
    text = stderr or ""
    for line in text.splitlines():
        if line.startswith("[ERROR]"):
            return line.strip()
    return " ".join(text[-tail:].split())


def last_json_line(stdout):
    """The JSON object on stdout's last non-empty line, or None when there is none."""
    lines = [line for line in (stdout or "").splitlines() if line.strip()]
    if not lines:
        return None
    try:
        value = json.loads(lines[-1])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _number(value, what):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise StageGateError(f"{what} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise StageGateError(f"{what} {value!r} is not a finite number")
    return number


def _result(passed, reason, value=None, limit=None, baseline=None, checks=None):
    return {"passed": bool(passed), "reason": reason, "value": value, "limit": limit, "baseline": baseline, "checks": checks or []}


def _check(name, passed, detail):
    return {"check": name, "passed": bool(passed), "detail": detail}


def cli_clips(run, manifest, expected=10):
    """The CLI run wrote ``expected`` clips and every one matches the job's manifest.

    run: {rc, stderr}; manifest: clip_manifest's result ({failed, msg, jobs: [{intact, ...}]}).
    """
    rc = int(run.get("rc", -1))
    jobs = manifest.get("jobs") or [{}]
    intact = int(jobs[0].get("intact", 0) or 0)
    manifest_ok = not manifest.get("failed", False)
    checks = [
        _check("exit code", rc == 0, f"rc {rc}"),
        _check("manifest", manifest_ok, manifest.get("msg") or "every checksum matches"),
        _check("clips intact", intact == expected, f"{intact} of {expected}"),
    ]
    if rc != 0:
        reason = f"CLI exited {rc}: {first_error_line(run.get('stderr'))}"
    elif not manifest_ok:
        reason = manifest.get("msg") or "the job's manifest could not be validated"
    elif intact != expected:
        reason = f"{intact} of {expected} clips intact"
    else:
        reason = f"{expected} clips intact, every checksum matches the manifest"
    return _result(rc == 0 and manifest_ok and intact == expected, reason, intact, expected, None, checks)


def boundary_vram(run, limit_gb):
    """The 704x384 boundary run finished and its GPU-memory peak stayed at or under ``limit_gb``."""
    limit = _number(limit_gb, "limit_gb")
    rc = int(run.get("rc", -1))
    if rc != 0:
        reason = f"boundary run exited {rc}: {first_error_line(run.get('stderr'))}"
        return _result(False, reason, None, limit, None, [_check("exit code", False, f"rc {rc}")])
    summary = last_json_line(run.get("stdout"))
    if summary is None or "gpu_peak_gb" not in summary:
        reason = "boundary run printed no summary with gpu_peak_gb on its last line"
        return _result(False, reason, None, limit, None, [_check("summary", False, reason)])
    peak = _number(summary["gpu_peak_gb"], "gpu_peak_gb")
    checks = [_check("exit code", True, "rc 0"), _check("peak under limit", peak <= limit, f"{peak} GB <= {limit} GB")]
    return _result(peak <= limit, f"peak GPU memory {peak} GB (limit {limit} GB)", peak, limit, None, checks)


def web_flow(run):
    """The Gradio flow (upload image and audio, submit, download, decode) passed."""
    rc = int(run.get("rc", -1))
    summary = last_json_line(run.get("stdout")) or {}
    passed = rc == 0 and summary.get("passed") is True
    if passed:
        reason = summary.get("reason") or "upload, submit, download and decode worked"
    elif rc != 0:
        reason = f"web flow exited {rc}: {summary.get('reason') or first_error_line(run.get('stderr'))}"
    else:
        reason = summary.get("reason") or "web flow printed no verdict on its last line"
    checks = [_check("exit code", rc == 0, f"rc {rc}"), _check("flow", summary.get("passed") is True, reason)]
    return _result(passed, reason, summary.get("seconds"), None, None, checks)


def multi_gpu_script(runs):
    """Every run of the multi-GPU script (baseline and candidate, alternately) exited 0.

    runs: [{role, version, rc, stderr}].
    """
    if not runs:
        raise StageGateError("no runs of the multi-GPU script to judge")
    codes = [int(r.get("rc", -1)) for r in runs]
    failed = [r for r in runs if int(r.get("rc", -1)) != 0]
    checks = [_check(f"{r.get('role')} {r.get('version')}", codes[i] == 0, f"rc {codes[i]}") for i, r in enumerate(runs)]
    if failed:
        first = failed[0]
        reason = f"{first.get('role')} {first.get('version')} exited {int(first.get('rc', -1))}: {first_error_line(first.get('stderr'), 200)}"
    else:
        reason = "both runs completed" if len(runs) == 2 else f"all {len(runs)} runs completed"
    return _result(not failed, reason, codes, [0] * len(runs), None, checks)


def gpu_memory_peak(candidate_mib, limit_mib, baseline_mib=None):
    """Every GPU's peak of the candidate's run stays at or under the GPU's memory (``limit_mib``)."""
    limit = _number(limit_mib, "limit_mib")
    peaks = [_number(v, "candidate peak") for v in candidate_mib or []]
    base = [_number(v, "baseline peak") for v in baseline_mib or []]
    if not peaks:
        raise StageGateError("the candidate's run reported no per-GPU memory peaks")
    checks = [_check(f"GPU {index}", peak <= limit, f"{peak:g} MiB <= {limit:g} MiB") for index, peak in enumerate(peaks)]
    reason = f"per-GPU peaks {'/'.join(f'{p:g}' for p in peaks)} MiB (baseline {'/'.join(f'{b:g}' for b in base) or 'none'}, limit {limit:g})"
    return _result(max(peaks) <= limit, reason, peaks, limit, base or None, checks)


def firing_critical(alerts):
    """The labels of each alert firing with severity critical; shared with canary_judge, which fails on the same rule.

    alerts: Prometheus C(/api/v1/alerts) items ({labels, state}) or their label dicts alone (taken as firing).
    """
    if not isinstance(alerts, list):
        raise StageGateError(f"alerts {alerts!r} is not a list")
    firing = []
    for alert in alerts:
        if not isinstance(alert, dict):
            raise StageGateError(f"alert {alert!r} is not a mapping")
        labels = alert.get("labels") if isinstance(alert.get("labels"), dict) else alert
        if alert.get("state", "firing") == "firing" and labels.get("severity") == "critical":
            firing.append(labels)
    return firing


def critical_alerts(alerts):
    """No alert of severity critical is firing: a step the request judge passed still stops on one (an Xid, an OOM)."""
    firing = firing_critical(alerts)
    names = [f"{a.get('alertname', '?')}" + (f" ({a['version']})" if a.get("version") else "") for a in firing]
    checks = [_check(name, False, "firing, severity critical") for name in names]
    reason = f"critical alert firing: {', '.join(sorted(set(names)))}" if firing else f"no critical alert firing ({len(alerts)} alert(s) read)"
    return _result(not firing, reason, len(firing), 0, None, checks)


def judge(gate, **inputs):
    """Dispatch by gate name; unknown names and missing inputs raise StageGateError."""
    table = {
        "cli_clips": (cli_clips, ("run", "manifest"), ("expected",)),
        "boundary_vram": (boundary_vram, ("run", "limit_gb"), ()),
        "web_flow": (web_flow, ("run",), ()),
        "multi_gpu_script": (multi_gpu_script, ("runs",), ()),
        "gpu_memory_peak": (gpu_memory_peak, ("candidate_mib", "limit_mib"), ("baseline_mib",)),
        "critical_alerts": (critical_alerts, ("alerts",), ()),
    }
    if gate not in table:
        raise StageGateError(f"gate {gate!r} is not one of {', '.join(GATES)}")
    function, required, optional = table[gate]
    missing = [name for name in required if inputs.get(name) is None]
    if missing:
        raise StageGateError(f"gate {gate} needs {', '.join(missing)}")
    args = {name: inputs[name] for name in required + optional if inputs.get(name) is not None}
    return function(**args)
