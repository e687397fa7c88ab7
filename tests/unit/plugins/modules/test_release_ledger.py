from __future__ import annotations

import json

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils import ledger as lg
from ansible_collections.liveavatar.rollout.plugins.modules import release_ledger, release_ledger_info

from helpers import run_module

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def args(tmp_path, **kw):
    return {"path": str(tmp_path / "ledger.json"), "lock_path": str(tmp_path / "rollout.lock"), **kw}


def test_lock_is_exclusive_and_released_by_its_holder(capsys, tmp_path):
    result, code = run_module(release_ledger.main, args(tmp_path, action="lock", run_id="run-a"), capsys)
    assert code == 0 and result["changed"] and result["lock"]["run_id"] == "run-a"
    again, code = run_module(release_ledger.main, args(tmp_path, action="lock", run_id="run-a"), capsys)
    assert code == 0 and not again["changed"]
    other, code = run_module(release_ledger.main, args(tmp_path, action="lock", run_id="run-b"), capsys)
    assert code == 1 and "already in progress (run run-a since" in other["msg"]
    assert other["msg"].endswith(
        "run playbooks/rollback.yml: it fences the run, brings every node back to one stable version and frees the lock; nothing was changed"
    )
    run_module(release_ledger.main, args(tmp_path, action="unlock", run_id="run-b"), capsys)
    assert (tmp_path / "rollout.lock").exists(), "only the holder unlocks"
    run_module(release_ledger.main, args(tmp_path, action="unlock", run_id="run-a"), capsys)
    assert not (tmp_path / "rollout.lock").exists()


def test_release_lifecycle_promotes_and_keeps_previous_stable(capsys, tmp_path):
    run_module(release_ledger.main, args(tmp_path, action="set_stable", version="v1.0", digest=D1), capsys)
    run_module(release_ledger.main, args(tmp_path, action="start", run_id="r1", version="v1.1", digest=D2, baseline="v1.0"), capsys)
    run_module(release_ledger.main, args(tmp_path, action="record", run_id="r1", data={"gate": "stage1", "passed": True}), capsys)
    result, _code = run_module(release_ledger.main, args(tmp_path, action="close", run_id="r1", status="promoted"), capsys)
    ledger = result["ledger"]
    assert ledger["stable"] == {"version": "v1.1", "digest": D2} and ledger["previous_stable"]["version"] == "v1.0"
    assert ledger["releases"][0]["events"][0]["gate"] == "stage1"
    again, _code = run_module(release_ledger.main, args(tmp_path, action="close", run_id="r1", status="promoted"), capsys)
    assert again["changed"] is False


def test_check_mode_writes_nothing(capsys, tmp_path):
    result, code = run_module(release_ledger.main, args(tmp_path, action="set_stable", version="v1.0", digest=D1), capsys, check_mode=True)
    assert code == 0 and result["changed"] and not (tmp_path / "ledger.json").exists()


def test_corrupt_ledger_stops_with_one_line(capsys, tmp_path):
    (tmp_path / "ledger.json").write_text("{not json")
    for main, extra in ((release_ledger_info.main, {}), (release_ledger.main, {"action": "set_stable", "version": "v1.0", "digest": D1})):
        result, code = run_module(main, args(tmp_path, **extra), capsys)
        assert code == 1 and "is unreadable or corrupt" in result["msg"] and "\n" not in result["msg"]
    assert (tmp_path / "ledger.json").read_text() == "{not json"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda led: lg.start(led, "r", "1.1", D1, "t"), "not vMAJOR"),
        (lambda led: lg.start(led, "r", "v1.1", "latest", "t"), "not sha256"),
        (lambda led: lg.close(led, "nope", "promoted", "t"), "no release with run_id nope"),
        (lambda led: lg.close(lg.close(lg.start(led, "r", "v1.1", D1, "t"), "r", "aborted", "t"), "r", "promoted", "t"), "already aborted"),
        (lambda led: lg.set_baseline(led, "v1.0", {}), "non-empty"),
    ],
)
def test_refused_transitions(call, message):
    with pytest.raises(lg.LedgerError, match=message):
        call(lg.empty())


def test_baselines_are_kept_per_version():
    ledger = lg.set_baseline(lg.empty(), "v1.0", {"clip_time_s": 1.0})
    assert json.loads(json.dumps(ledger))["baselines"]["v1.0"]["metrics"] == {"clip_time_s": 1.0}


D3 = "sha256:" + "3" * 64


def promoted_ledger():
    led = lg.set_stable(lg.empty(), "v1.0", D1)
    led = lg.start(led, "r1", "v1.1", D2, "t1", baseline="v1.0")
    return lg.close(led, "r1", "promoted", "t2")


def test_plan_rollback_of_a_promoted_release_goes_to_the_previous_stable():
    plan = lg.plan_rollback(promoted_ledger())
    assert plan["target"] == {"version": "v1.0", "digest": D1} and plan["bad_versions"] == ["v1.1"]


def test_plan_rollback_during_a_release_goes_back_to_stable():
    led = lg.start(promoted_ledger(), "r2", "v1.2", D3, "t3", baseline="v1.1")
    plan = lg.plan_rollback(led)
    assert plan["target"]["version"] == "v1.1" and plan["bad_versions"] == ["v1.2"] and plan["open_runs"] == ["r2"]
    assert lg.plan_rollback(promoted_ledger(), candidate_running=True)["target"]["version"] == "v1.1"


@pytest.mark.parametrize(
    ("running", "bad", "unrecognised"),
    [
        (["v1.1", "v1.0"], ["v1.1"], []),
        (["v1.1", "", "..", "v1.1\n", "../../etc"], ["v1.1"], ["''", "'..'", "'../../etc'", "'v1.1\\n'"]),
        (["v1.3"], ["v1.1", "v1.3"], []),
    ],
)
def test_container_labels_become_versions_only_when_they_are_versions(running, bad, unrecognised):
    plan = lg.plan_rollback(promoted_ledger(), running_versions=running)
    assert plan["bad_versions"] == bad and plan["unrecognised_labels"] == unrecognised and plan["target"]["version"] == "v1.0"


def test_a_repeated_rollback_converges_and_never_rolls_forward():
    led = lg.rollback(promoted_ledger(), "v1.0", D1, ["v1.1"], "t3")
    assert led["stable"]["version"] == "v1.0" and led["previous_stable"] is None
    assert lg.plan_rollback(led)["target"]["version"] == "v1.0"
    assert lg.rollback(led, "v1.0", D1, ["v1.1"], "t4") == led, "the same rollback again changes nothing"


def test_alerts_a_rollback_could_not_post_are_kept_for_the_next_one_and_cleared_once_posted():
    alert = {"labels": {"alertname": "LiveAvatarJobsQuarantined", "severity": "warning"}, "annotations": {}}
    led = lg.rollback(promoted_ledger(), "v1.0", D1, ["v1.1"], "t3", unsent_alerts=[alert])
    assert led["last_rollback"]["unsent_alerts"] == [alert]
    again = lg.rollback(led, "v1.0", D1, ["v1.1"], "t4", unsent_alerts=[])
    assert "unsent_alerts" not in again["last_rollback"] and again["last_rollback"]["at"] == "t4"


def test_rollback_closes_open_releases_as_rolled_back():
    led = lg.start(promoted_ledger(), "r2", "v1.2", D3, "t3")
    after = lg.rollback(led, "v1.1", D2, ["v1.2"], "t4")
    assert lg.find(after, "r2")["status"] == "rolled_back" and after["stable"]["version"] == "v1.1"
    assert after["previous_stable"]["version"] == "v1.0", "stable did not change, so neither does its predecessor"


@pytest.mark.parametrize(
    ("led", "to_version", "message"),
    [
        (promoted_ledger(), "v0.9", "to_version v0.9 has no ledger entry (versions the fleet ran as stable: v1.0, v1.1)"),
        (lg.empty(), None, "the ledger has no stable version"),
        (lg.set_stable(lg.empty(), "v1.0", D1), None, "no version before v1.0; give -e to_version"),
    ],
)
def test_plan_rollback_refuses_an_unknown_target(led, to_version, message):
    with pytest.raises(lg.LedgerError, match=message.replace("(", r"\(").replace(")", r"\)")):
        lg.plan_rollback(led, to_version)


def test_rollback_action_records_it_and_removes_a_stale_lock(capsys, tmp_path):
    (tmp_path / "ledger.json").write_text(json.dumps(promoted_ledger()))
    run_module(release_ledger.main, args(tmp_path, action="lock", run_id="dead-run"), capsys)
    plan, code = run_module(release_ledger_info.main, args(tmp_path, plan_rollback=True, candidate_running=False), capsys)
    assert code == 0 and not plan["changed"] and plan["plan"]["target"]["version"] == "v1.0"
    done, code = run_module(release_ledger.main, args(tmp_path, action="rollback", version="v1.0", digest=D1, data={"bad_versions": ["v1.1"]}), capsys)
    assert code == 0 and done["changed"] and done["lock"] is None and not (tmp_path / "rollout.lock").exists()
    again, _code = run_module(release_ledger.main, args(tmp_path, action="rollback", version="v1.0", digest=D1, data={"bad_versions": ["v1.1"]}), capsys)
    assert again["changed"] is False
    refused, code = run_module(release_ledger_info.main, args(tmp_path, plan_rollback=True, to_version="v7.0"), capsys)
    assert code == 1 and refused["msg"].startswith("rollback: to_version v7.0 has no ledger entry")


def test_a_target_started_beside_the_bad_version_is_not_a_candidate():
    """An interrupted rollback leaves the previous stable version in the canary slot: still roll back to it."""
    assert lg.plan_rollback(promoted_ledger(), candidate_versions=["v1.0"])["target"]["version"] == "v1.0"
    assert lg.plan_rollback(promoted_ledger(), candidate_versions=["v1.2"])["target"]["version"] == "v1.1"


def test_an_aborted_release_does_not_stop_a_later_manual_rollback():
    """The abort of v1.2 rolls back to stable v1.1 (stable unchanged); a manual rollback afterwards goes to v1.0."""
    led = lg.start(promoted_ledger(), "r2", "v1.2", D3, "t3")
    led = lg.rollback(led, "v1.1", D2, ["v1.2"], "t4")
    assert led["last_rollback"]["to"] == "v1.1" and led["previous_stable"]["version"] == "v1.0"
    plan = lg.plan_rollback(led)
    assert plan["target"]["version"] == "v1.0" and plan["bad_versions"] == ["v1.1"]


def test_diff_mode_shows_the_ledger_and_lock_before_and_after(capsys, tmp_path):
    result, code = run_module(release_ledger.main, args(tmp_path, action="set_stable", version="v1.0", digest=D1, _ansible_diff=True), capsys)
    assert code == 0 and result["changed"] is True
    assert result["diff"]["before"]["ledger"]["stable"] is None
    assert result["diff"]["after"]["ledger"]["stable"] == {"version": "v1.0", "digest": D1}
    locked, _code = run_module(release_ledger.main, args(tmp_path, action="lock", run_id="r1", _ansible_diff=True), capsys)
    assert locked["diff"]["before"]["lock"] is None and locked["diff"]["after"]["lock"]["run_id"] == "r1"
    again, _code = run_module(release_ledger.main, args(tmp_path, action="set_stable", version="v1.0", digest=D1, _ansible_diff=True), capsys)
    assert again["changed"] is False and again["diff"]["before"] == again["diff"]["after"]


# Issue 13 item 3: a rollback and a live rollout fence each other; updates are serialized; a corrupt lock never blocks a rollback.
def open_release(capsys, tmp_path, run_id="r1"):
    run_module(release_ledger.main, args(tmp_path, action="set_stable", version="v1.0", digest=D1), capsys)
    run_module(release_ledger.main, args(tmp_path, action="lock", run_id=run_id), capsys)
    run_module(release_ledger.main, args(tmp_path, action="start", run_id=run_id, version="v1.1", digest=D2, baseline="v1.0"), capsys)


def test_a_rollout_holds_until_a_rollback_revokes_it(capsys, tmp_path):
    open_release(capsys, tmp_path)
    held, code = run_module(release_ledger.main, args(tmp_path, action="hold", run_id="r1"), capsys)
    assert code == 0 and held["fenced"] is False and held["changed"] is False
    revoked, code = run_module(release_ledger.main, args(tmp_path, action="revoke", run_id="rollback-7"), capsys)
    assert code == 0 and revoked["changed"] and revoked["lock"] is None and not (tmp_path / "rollout.lock").exists()
    assert revoked["ledger"]["releases"][0]["events"][-1]["event"] == "revoked"
    fenced, code = run_module(release_ledger.main, args(tmp_path, action="hold", run_id="r1"), capsys)
    assert code == 1 and fenced["fenced"] is True
    assert fenced["msg"].startswith("release_ledger: run r1 is fenced: the rollout lock is gone") and "\n" not in fenced["msg"]
    again, code = run_module(release_ledger.main, args(tmp_path, action="revoke", run_id="rollback-7"), capsys)
    assert code == 0 and again["changed"] is False


@pytest.mark.parametrize(
    ("holder", "status", "revoked", "reason"),
    [
        ({"run_id": "r1"}, "in_progress", False, None),
        (None, "in_progress", False, "the rollout lock is gone"),
        ({"run_id": "r2", "since": "t"}, "in_progress", False, "the rollout lock is held by run r2 since t"),
        ({"run_id": "r1"}, "rolled_back", False, "was closed as rolled_back"),
        ({"run_id": "r1"}, "in_progress", True, "a rollback (rb) revoked it at t"),
    ],
)
def test_fenced_reason(holder, status, revoked, reason):
    events = [{"event": "revoked", "by": "rb", "at": "t"}] if revoked else []
    led = dict(lg.empty(), releases=[{"run_id": "r1", "version": "v1.1", "digest": D2, "status": status, "events": events}])
    found = lg.fenced_reason(led, holder, "r1")
    assert (found is None) if reason is None else (reason in found)


@pytest.mark.parametrize("content", ["", "{half", "[]", '{"since": "t"}'])
def test_a_corrupt_or_empty_lock_never_blocks_a_rollback(capsys, tmp_path, content):
    open_release(capsys, tmp_path)
    (tmp_path / "rollout.lock").write_text(content)
    info, code = run_module(release_ledger_info.main, args(tmp_path, plan_rollback=True), capsys)
    assert code == 0 and info["lock"] is None and info["lock_problem"] and info["plan"]["target"]["version"] == "v1.0"
    refused, code = run_module(release_ledger.main, args(tmp_path, action="lock", run_id="r9"), capsys)
    assert code == 1 and "corrupt or empty" in refused["msg"] and "run playbooks/rollback.yml" in refused["msg"]
    fenced, code = run_module(release_ledger.main, args(tmp_path, action="hold", run_id="r1"), capsys)
    assert code == 1 and fenced["fenced"]
    done, code = run_module(release_ledger.main, args(tmp_path, action="rollback", version="v1.0", digest=D1, data={"bad_versions": ["v1.1"]}), capsys)
    assert code == 0 and done["lock"] is None and not (tmp_path / "rollout.lock").exists()
    assert done["ledger"]["releases"][0]["status"] == "rolled_back"


def test_concurrent_records_are_serialized_and_none_is_lost(tmp_path):
    """Twelve processes append one event each to the same release at once: all twelve are in the ledger."""
    import subprocess
    import sys

    lg_path = tmp_path / "ledger.json"
    lg_path.write_text(json.dumps(dict(lg.empty(), releases=[{"run_id": "r1", "version": "v1.1", "digest": D2, "status": "in_progress", "events": []}])))
    script = (
        "import json, sys\n"
        "from ansible.module_utils.testing import patch_module_args\n"
        "from ansible_collections.liveavatar.rollout.plugins.modules import release_ledger\n"
        "args = json.loads(sys.argv[1])\n"
        "with patch_module_args(args):\n"
        "    try:\n"
        "        release_ledger.main()\n"
        "    except SystemExit as done:\n"
        "        sys.exit(done.code)\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, json.dumps(args(tmp_path, action="record", run_id="r1", data={"n": n}))],
            stdout=subprocess.DEVNULL,
            env={**__import__("os").environ, "PYTHONPATH": ":".join(sys.path)},
        )
        for n in range(12)
    ]
    assert [p.wait(timeout=60) for p in procs] == [0] * 12
    events = json.loads(lg_path.read_text())["releases"][0]["events"]
    assert sorted(e["n"] for e in events) == list(range(12))


# Issue 13 item 5: stage 3 alone releases only an image that stages 1 and 2 validated.
def validated_ledger(stages=(1, 2), status="validated", digest=D2):
    events = [{"event": "validated", "stages": list(stages)}]
    return dict(lg.empty(), releases=[{"run_id": "val-1", "version": "v1.1", "digest": digest, "status": status, "events": events}])


@pytest.mark.parametrize(
    ("led", "carried", "message"),
    [
        (validated_ledger(), None, None),
        (validated_ledger(), D2, None),
        (validated_ledger(stages=(1,)), None, "has no release validated by stages 1 and 2"),
        (validated_ledger(status="aborted"), None, "has no release validated by stages 1 and 2"),
        (validated_ledger(digest=D1), None, "has no release validated by stages 1 and 2"),
        (lg.empty(), None, "run -e version=v1.1 -e stages=1,2 first"),
        (validated_ledger(), D1, "the tag moved"),
    ],
)
def test_stage_3_alone_requires_the_digest_stages_1_and_2_validated(led, carried, message):
    if message is None:
        assert lg.require_validated(led, "v1.1", D2, carried)["run_id"] == "val-1"
    else:
        with pytest.raises(lg.LedgerError, match=message):
            lg.require_validated(led, "v1.1", D2, carried)


def test_release_ledger_info_refuses_an_unvalidated_digest_in_one_line(capsys, tmp_path):
    (tmp_path / "ledger.json").write_text(json.dumps(validated_ledger(stages=(1,))))
    result, code = run_module(release_ledger_info.main, args(tmp_path, require_validated={"version": "v1.1", "digest": D2}), capsys)
    assert code == 1 and result["msg"].startswith("rollout: v1.1 (sha256:2222") and result["msg"].endswith("; nothing was changed")
    (tmp_path / "ledger.json").write_text(json.dumps(validated_ledger()))
    result, code = run_module(release_ledger_info.main, args(tmp_path, require_validated={"version": "v1.1", "digest": D2, "carried_digest": ""}), capsys)
    assert code == 0 and result["validated_by"] == "val-1"


def test_a_dead_provision_is_resumed_and_a_dead_rollout_rolled_back():
    from ansible_collections.liveavatar.rollout.plugins.module_utils.ledger import dead_holder_action

    provision = dead_holder_action({"run_id": "provision-20261208T011257-85305"})
    assert provision == (
        "if that provision is dead, resume it: ansible-playbook playbooks/provision.yml "
        "-e provision_run_id=provision-20261208T011257-85305; nothing was changed"
    )
    assert dead_holder_action({"run_id": "20261208T011257-1"}).startswith("if that run is dead (its controller killed), run playbooks/rollback.yml")
    assert dead_holder_action({}).startswith("if that run is dead")
