# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Alerts the release path posts to Alertmanager's v2 API, as plain data (no HTTP, no Ansible).

The alert_notify module posts what `postable` returns and retries what `retryable` says; `abort_alert` turns an aborted
release's report into the one alert that names its version, stage, gate and reason.
"""

from __future__ import annotations

import re

SEVERITIES = ("critical", "warning", "info")
# Prometheus' label-name grammar: Alertmanager refuses anything else with a 400 that names no label.
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# "rollout aborted at <stage> gate <name>: <reason>" is what a failed gate says (canary_release's _gate.yml).
_GATE_REASON = re.compile(r"rollout aborted at (?P<stage>[\w-]+) gate (?P<gate>[\w.-]+): (?P<reason>.*)", re.S)


class AlertError(Exception):
    """An alert that Alertmanager would refuse or misfile: the message names the alert and the field."""


def postable(alerts):
    """Alertmanager's postable alerts from [{labels, annotations}]: every value a string, alertname and severity set."""
    if not isinstance(alerts, list) or not alerts:
        raise AlertError("alerts must be a non-empty list of {labels, annotations}")
    out = []
    for index, alert in enumerate(alerts):
        labels = (alert or {}).get("labels") if isinstance(alert, dict) else None
        if not isinstance(labels, dict) or not labels.get("alertname"):
            raise AlertError(f"alert {index}: labels.alertname is missing")
        name = labels["alertname"]
        if labels.get("severity") not in SEVERITIES:
            raise AlertError(f"alert {name}: severity {labels.get('severity')!r} is not one of {', '.join(SEVERITIES)}")
        annotations = alert.get("annotations") or {}
        if not isinstance(annotations, dict):
            raise AlertError(f"alert {name}: annotations must be a mapping")
        for key in list(labels) + list(annotations):
            if not isinstance(key, str) or not _LABEL_NAME.fullmatch(key):
                raise AlertError(f"alert {name}: {key!r} is not a label name (letters, digits, '_', not starting with a digit)")
        out.append(
            {
                "labels": {k: _text(v) for k, v in labels.items() if v is not None},
                "annotations": {k: _text(v) for k, v in annotations.items() if v is not None},
            }
        )
    return out


def _text(value):
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    return str(value)


def retryable(status):
    """Whether a failed post is worth another try: no answer (None or fetch_url's -1), a timeout or a 5xx; a 4xx fails again."""
    return status is None or status < 100 or status >= 500 or status in (408, 429)


def failed_gate(report):
    """{stage, gate, reason} of an aborted release: its last failed gate, else what the abort's reason says."""
    failed = [g for g in report.get("gates") or [] if g.get("passed") is False or str(g.get("passed")).lower() == "false"]
    if failed:
        last = failed[-1]
        return {"stage": str(last.get("stage") or "unknown"), "gate": str(last.get("name") or "unknown"), "reason": str(last.get("reason") or "")}
    reason = str(report.get("reason") or "unknown failure")
    match = _GATE_REASON.match(reason)
    if match:
        return {"stage": match["stage"], "gate": match["gate"], "reason": match["reason"]}
    # A failure outside a gate (a host lost, a module error): the stage is unknown, the reason says what happened.
    return {"stage": "unknown", "gate": "none", "reason": reason}


def abort_alert(report, report_path=None):
    """The critical alert of an aborted release, naming its version, stage, gate and reason."""
    if not report.get("version"):
        raise AlertError("the aborted release's report names no version")
    where = failed_gate(report)
    annotations = {
        "summary": f"release {report['version']} aborted at {where['stage']} gate {where['gate']}: {where['reason']}",
        "reason": where["reason"],
        "run_id": report.get("run_id"),
        "action": "traffic is back on stable; read the report and the incident bundle before retrying this version",
    }
    if report_path:
        annotations["report"] = report_path
    labels = {
        "alertname": "LiveAvatarReleaseAborted",
        "severity": "critical",
        "service": "liveavatar",
        "version": report["version"],
        "stage": where["stage"],
        "gate": where["gate"],
    }
    return {"labels": labels, "annotations": annotations}
