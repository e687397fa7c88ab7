#!/usr/bin/python
# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: alert_notify
short_description: Post alerts to Alertmanager, retried, and say whether they were sent
version_added: 0.4.0
description:
  - Posts the alerts to Alertmanager's v2 API (C(/api/v2/alerts)); Alertmanager routes them to WeCom and e-mail.
  - A post that gets no answer, a timeout or a 5xx is retried O(retries) times, O(delay) seconds apart.
  - An Alertmanager that stays down does not fail the task unless O(required) is set; the result says C(sent=false)
    and why, so that an abort or a rollback finishes its work and reports the alert as not sent.
  - Bad alerts (no alertname, an unknown severity, a label name Alertmanager refuses) fail in one line before any post.
  - Given O(aborted_report), the alert is built from an aborted release's report (M(liveavatar.rollout.release_ledger_info)'s
    C(report)) and names its version, stage, gate and reason.
attributes:
  check_mode:
    support: full
    description: Builds and checks the alerts and posts nothing.
  diff_mode:
    support: none
    description: An alert has no before and after.
  idempotent:
    support: none
    description: Each run posts again; Alertmanager deduplicates alerts with the same labels.
options:
  url:
    description: Alertmanager's base URL, for example C(http://monitor:9093).
    type: str
    required: true
  alerts:
    description: The alerts, each C({labels, annotations}); C(labels) needs C(alertname) and C(severity).
    type: list
    elements: dict
    default: []
  aborted_report:
    description: An aborted release's report; adds the alert C(LiveAvatarReleaseAborted) built from it.
    type: dict
  report_path:
    description: Where that report lies, named in the alert.
    type: str
  retries:
    description: Posts after the first one when Alertmanager does not answer.
    type: int
    default: 3
  delay:
    description: Seconds between two posts.
    type: float
    default: 2
  timeout:
    description: Seconds one post may take.
    type: int
    default: 10
  required:
    description: Fail the task when the alerts could not be sent.
    type: bool
    default: false
author:
  - liveavatar.rollout maintainers (@liveavatar)
"""

EXAMPLES = r"""
- name: Alert that the release aborted (sent, or reported as not sent)
  liveavatar.rollout.alert_notify:
    url: "{{ rollout_alertmanager_url }}"
    aborted_report: "{{ record.report }}"
  register: abort_alert

- name: Ask a person to finish what the rollback skipped
  liveavatar.rollout.alert_notify:
    url: http://monitor:9093
    alerts:
      - labels: {alertname: LiveAvatarRollbackIncomplete, severity: critical, service: liveavatar}
        annotations: {summary: "rollback to v1.0 skipped the registry"}
"""

RETURN = r"""
sent:
  description: Whether Alertmanager accepted the alerts.
  returned: always
  type: bool
attempts:
  description: Posts made (0 in check mode).
  returned: always
  type: int
error:
  description: Why the alerts were not sent, or null.
  returned: always
  type: str
alerts:
  description: The alerts as posted (or as they would be in check mode).
  returned: always
  type: list
  elements: dict
names:
  description: The alerts' names.
  returned: always
  type: list
  elements: str
"""

import json
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import fetch_url

from ansible_collections.liveavatar.rollout.plugins.module_utils.alerts import AlertError, abort_alert, postable, retryable


def _post(module, url, alerts):
    """(status, error) of one post; status -1 when Alertmanager did not answer."""
    response, info = fetch_url(
        module, url, data=json.dumps(alerts), headers={"Content-Type": "application/json"}, method="POST", timeout=module.params["timeout"]
    )
    if response is not None:
        response.read()
    status = info.get("status", -1)
    return status, None if status == 200 else f"{url}: {info.get('msg') or 'no answer'} (HTTP {status})"


def main():
    module = AnsibleModule(
        argument_spec={
            "url": {"type": "str", "required": True},
            "alerts": {"type": "list", "elements": "dict", "default": []},
            "aborted_report": {"type": "dict"},
            "report_path": {"type": "str"},
            "retries": {"type": "int", "default": 3},
            "delay": {"type": "float", "default": 2},
            "timeout": {"type": "int", "default": 10},
            "required": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        wanted = list(p["alerts"])
        if p["aborted_report"] is not None:
            wanted.append(abort_alert(p["aborted_report"], p["report_path"]))
        alerts = postable(wanted)
    except AlertError as exc:
        module.fail_json(msg=f"alert_notify: {exc}; nothing was posted")
    names = [alert["labels"]["alertname"] for alert in alerts]
    if p["retries"] < 0 or p["delay"] < 0:
        module.fail_json(msg=f"alert_notify: retries ({p['retries']}) and delay ({p['delay']}) must be 0 or more; nothing was posted")
    if module.check_mode:
        module.exit_json(changed=False, sent=False, attempts=0, error="check mode: not posted", alerts=alerts, names=names)
    url = p["url"].rstrip("/") + "/api/v2/alerts"
    attempts, status, error = 0, None, None
    while attempts <= p["retries"]:
        attempts += 1
        status, error = _post(module, url, alerts)
        if error is None or not retryable(status) or attempts > p["retries"]:
            break
        time.sleep(p["delay"])
    result = {"sent": error is None, "attempts": attempts, "error": error and f"{error} after {attempts} post(s)", "alerts": alerts, "names": names}
    if error is not None and p["required"]:
        module.fail_json(msg=f"alert_notify: {', '.join(names)} not sent: {result['error']}", **result)
    module.exit_json(changed=error is None, **result)


if __name__ == "__main__":
    main()
