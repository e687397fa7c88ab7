"""Alerts the release path posts to Alertmanager (issue 17 item 3), and the module that posts them with retries."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils import alerts

ABORTED = {
    "version": "v1.2",
    "run_id": "20261208T010000-1",
    "outcome": "aborted",
    "reason": "rollout aborted at stage1 gate output_quality_ssim: SSIM 0.41 under 0.9",
    "gates": [
        {"stage": "stage1", "name": "ready_within_60s", "passed": True, "reason": "ok"},
        {"stage": "stage1", "name": "output_quality_ssim", "passed": False, "reason": "SSIM 0.41 under 0.9"},
    ],
}


def test_an_aborted_release_alerts_with_its_version_stage_gate_and_reason():
    alert = alerts.abort_alert(ABORTED, "reports/v1.2-x/report.md")
    assert alert["labels"] == {
        "alertname": "LiveAvatarReleaseAborted",
        "severity": "critical",
        "service": "liveavatar",
        "version": "v1.2",
        "stage": "stage1",
        "gate": "output_quality_ssim",
    }
    assert alert["annotations"]["summary"] == "release v1.2 aborted at stage1 gate output_quality_ssim: SSIM 0.41 under 0.9"
    assert alert["annotations"]["report"] == "reports/v1.2-x/report.md"


@pytest.mark.parametrize(
    ("report", "where"),
    [
        # a step's gate, recorded as a string by the ledger
        (
            {"reason": "x", "gates": [{"stage": "stage3 step 5%", "name": "canary_judge", "passed": "False", "reason": "canary slower"}]},
            {"stage": "stage3 step 5%", "gate": "canary_judge", "reason": "canary slower"},
        ),
        # no gate recorded: the abort's reason names them
        (
            {"reason": "rollout aborted at stage2 gate nccl_all_reduce: 506 ms over 100 ms", "gates": []},
            {"stage": "stage2", "gate": "nccl_all_reduce", "reason": "506 ms over 100 ms"},
        ),
        # a failure outside any gate
        ({"reason": "gpu-node-3: unreachable", "gates": None}, {"stage": "unknown", "gate": "none", "reason": "gpu-node-3: unreachable"}),
        ({}, {"stage": "unknown", "gate": "none", "reason": "unknown failure"}),
    ],
)
def test_the_failed_gate_comes_from_the_record_else_from_the_reason(report, where):
    assert alerts.failed_gate(report) == where


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ([], "alerts must be a non-empty list"),
        ([{"labels": {"severity": "critical"}}], "alert 0: labels.alertname is missing"),
        ([{"labels": {"alertname": "A", "severity": "page"}}], "alert A: severity 'page' is not one of critical, warning, info"),
        ([{"labels": {"alertname": "A", "severity": "info", "bad-name": "x"}}], "alert A: 'bad-name' is not a label name"),
        ([{"labels": {"alertname": "A", "severity": "info"}, "annotations": ["x"]}], "alert A: annotations must be a mapping"),
    ],
)
def test_an_alert_alertmanager_would_refuse_is_refused_here(given, message):
    with pytest.raises(alerts.AlertError, match=message):
        alerts.postable(given)


def test_postable_alerts_carry_strings_only():
    (alert,) = alerts.postable([{"labels": {"alertname": "A", "severity": "warning", "n": 3, "gone": None}, "annotations": {"jobs": ["j1", "j2"]}}])
    assert alert == {"labels": {"alertname": "A", "severity": "warning", "n": "3"}, "annotations": {"jobs": "j1, j2"}}


@pytest.mark.parametrize(("status", "again"), [(None, True), (-1, True), (500, True), (503, True), (429, True), (408, True), (400, False), (404, False)])
def test_only_a_post_that_may_succeed_later_is_retried(status, again):
    assert alerts.retryable(status) is again


class _Alertmanager(BaseHTTPRequestHandler):
    answers: list = []
    received: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        status = self.answers.pop(0) if self.answers else 200
        if status == 200:
            self.received.append((self.path, body))
        self.send_response(status)
        self.end_headers()

    def log_message(self, *_args):
        pass


@pytest.fixture
def alertmanager():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Alertmanager)
    _Alertmanager.answers, _Alertmanager.received = [], []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Alertmanager
    server.shutdown()


def test_the_module_retries_a_5xx_then_posts_the_abort_alert(alertmanager, capsys):
    from ansible_collections.liveavatar.rollout.plugins.modules import alert_notify

    from helpers import run_module

    url, handler = alertmanager
    handler.answers = [503]
    result, code = run_module(alert_notify.main, {"url": url + "/", "aborted_report": ABORTED, "delay": 0}, capsys)
    assert code == 0 and result["sent"] and result["changed"] and result["attempts"] == 2, result
    ((path, body),) = handler.received
    assert path == "/api/v2/alerts" and body[0]["labels"]["gate"] == "output_quality_ssim"


def test_an_alertmanager_that_stays_down_is_reported_not_sent_and_fails_only_when_required(alertmanager, capsys):
    from ansible_collections.liveavatar.rollout.plugins.modules import alert_notify

    from helpers import run_module

    url, handler = alertmanager
    handler.answers = [503] * 10
    args = {"url": url, "alerts": [{"labels": {"alertname": "A", "severity": "critical"}}], "retries": 2, "delay": 0}
    result, code = run_module(alert_notify.main, args, capsys)
    assert code == 0 and not result["sent"] and not result["changed"] and result["attempts"] == 3
    assert result["error"].endswith("(HTTP 503) after 3 post(s)"), result["error"]
    result, code = run_module(alert_notify.main, dict(args, required=True), capsys)
    assert code == 1 and result["msg"].startswith("alert_notify: A not sent: ")
    handler.answers = [400]
    result, _code = run_module(alert_notify.main, args, capsys)
    assert result["attempts"] == 1, "a refused alert is not posted again"
    assert handler.received == []


def test_check_mode_and_bad_input_post_nothing(alertmanager, capsys):
    from ansible_collections.liveavatar.rollout.plugins.modules import alert_notify

    from helpers import run_module

    url, handler = alertmanager
    result, code = run_module(alert_notify.main, {"url": url, "aborted_report": ABORTED}, capsys, check_mode=True)
    assert code == 0 and not result["sent"] and result["attempts"] == 0 and result["names"] == ["LiveAvatarReleaseAborted"]
    result, code = run_module(alert_notify.main, {"url": url, "alerts": [{"labels": {"alertname": "A"}}]}, capsys)
    assert code == 1 and result["msg"] == "alert_notify: alert A: severity None is not one of critical, warning, info; nothing was posted"
    result, code = run_module(alert_notify.main, {"url": url, "aborted_report": {"reason": "x"}}, capsys)
    assert code == 1 and result["msg"] == "alert_notify: the aborted release's report names no version; nothing was posted"
    assert handler.received == []
