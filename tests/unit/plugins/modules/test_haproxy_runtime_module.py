"""haproxy_runtime's real main() against a UNIX socket that answers like HAProxy's runtime API."""

from __future__ import annotations

import pytest

from ansible_collections.liveavatar.rollout.plugins.modules import haproxy_runtime

from helpers import FakeHAProxy, run_module


def servers(canary_weight=100, stable_weight=0, stable_status="UP"):
    return {
        "gpu-node-1-stable": {"weight": stable_weight, "scur": 0, "stot": 500, "status": stable_status},
        "gpu-node-1-canary": {"weight": canary_weight, "scur": 0, "stot": 80, "status": "UP"},
    }


@pytest.fixture
def lb(tmp_path):
    made = []

    def make(table, garble=None):
        fake = FakeHAProxy(tmp_path / "admin.sock", table, garble)
        made.append(fake)
        return fake

    yield make
    for fake in made:
        fake.close()


def args(tmp_path, **extra):
    return dict({"socket": str(tmp_path / "admin.sock")}, **extra)


def test_abort_at_100_percent_puts_stable_back_in_the_same_batch(tmp_path, lb, capsys):
    fake = lb(servers())
    result, code = run_module(
        haproxy_runtime.main,
        args(tmp_path, weights={"gpu-node-1-canary": 0}, weights_if_healthy={"gpu-node-1-stable": 100}, _ansible_diff=True),
        capsys,
    )
    assert code == 0, result
    assert result["changed"] is True
    assert result["commands"] == ["set weight liveavatar/gpu-node-1-stable 100", "set weight liveavatar/gpu-node-1-canary 0"]
    assert fake.lines.count("set weight liveavatar/gpu-node-1-stable 100;set weight liveavatar/gpu-node-1-canary 0") == 1
    assert result["diff"] == {"before": {"gpu-node-1-stable": 0, "gpu-node-1-canary": 100}, "after": {"gpu-node-1-stable": 100, "gpu-node-1-canary": 0}}
    assert result["state"]["gpu-node-1-stable"]["weight"] == 100


def test_second_run_changes_nothing(tmp_path, lb, capsys):
    fake = lb(servers(canary_weight=0, stable_weight=100))
    result, code = run_module(haproxy_runtime.main, args(tmp_path, weights={"gpu-node-1-canary": 0, "gpu-node-1-stable": 100}), capsys)
    assert (code, result["changed"], result["commands"]) == (0, False, [])
    assert all(not line.startswith("set") for line in fake.lines)


def test_check_mode_sends_no_set_weight(tmp_path, lb, capsys):
    fake = lb(servers())
    result, code = run_module(haproxy_runtime.main, args(tmp_path, weights={"gpu-node-1-canary": 5}), capsys, check_mode=True)
    assert (code, result["changed"]) == (0, True)
    assert result["changes"] == {"gpu-node-1-canary": {"before": 100, "after": 5}}
    assert fake.servers["gpu-node-1-canary"]["weight"] == 100
    assert fake.lines == ["show stat"]


def test_a_batch_that_empties_the_pool_is_refused_before_any_change(tmp_path, lb, capsys):
    fake = lb(servers(stable_status="DOWN"))
    result, code = run_module(haproxy_runtime.main, args(tmp_path, weights={"gpu-node-1-canary": 0}, weights_if_healthy={"gpu-node-1-stable": 100}), capsys)
    assert code == 1
    assert "no healthy server in rotation" in result["msg"] and str(tmp_path / "admin.sock") in result["msg"]
    assert fake.servers["gpu-node-1-canary"]["weight"] == 100


@pytest.mark.parametrize(
    ("table", "garble", "weights", "message"),
    [
        (None, None, {"gpu-node-1-canary": 0}, "cannot talk to the runtime API"),
        ("servers", None, {"gpu-node-7-canary": 0}, "server gpu-node-7-canary does not exist"),
        ("servers", "show-stat", {"gpu-node-1-canary": 0}, "'show stat' answered 'Permission denied'"),
        ("servers", "ignore-set", {"gpu-node-1-stable": 100}, "gpu-node-1-stable reads weight 0 after it was set to 100"),
    ],
)
def test_failures_are_one_line_naming_socket_and_server(tmp_path, lb, capsys, table, garble, weights, message):
    if table:
        lb(servers(), garble)
    result, code = run_module(haproxy_runtime.main, args(tmp_path, weights=weights), capsys)
    assert code == 1
    assert message in result["msg"]
    assert result["msg"].startswith(f"haproxy_runtime: {tmp_path / 'admin.sock'} backend liveavatar: ")
    assert "\n" not in result["msg"]


def test_drain_waits_for_sessions_then_fails_naming_the_busy_server(tmp_path, lb, capsys):
    table = servers(canary_weight=100, stable_weight=100)
    table["gpu-node-1-stable"]["scur"] = 3
    lb(table)
    result, code = run_module(haproxy_runtime.main, args(tmp_path, drain=["gpu-node-1-stable"], drain_timeout=1), capsys)
    assert code == 1
    assert "gpu-node-1-stable (3)" in result["msg"]
    assert table["gpu-node-1-stable"]["weight"] == 0


def test_a_drain_past_its_deadline_can_proceed_and_names_the_sessions_it_leaves(tmp_path, lb, capsys):
    """Issue 14 item 4: a deadline derived from the longest expected job; past it the instance is replaced anyway."""
    table = servers(canary_weight=100, stable_weight=100)
    table["gpu-node-1-stable"]["scur"] = 2
    lb(table)
    result, code = run_module(haproxy_runtime.main, args(tmp_path, drain=["gpu-node-1-stable"], drain_timeout=1, drain_overdue="proceed"), capsys)
    assert code == 0 and result["changed"] is True
    assert result["overdue_sessions"] == {"gpu-node-1-stable": 2} and result["drained_s"] >= 1
    table["gpu-node-1-stable"]["scur"] = 0
    result, code = run_module(haproxy_runtime.main, args(tmp_path, drain=["gpu-node-1-stable"], drain_timeout=1, drain_overdue="proceed"), capsys)
    assert code == 0 and result["changed"] is False and result["overdue_sessions"] == {}


def test_held_servers_file_keeps_a_rollbacks_switched_servers(tmp_path, lb, capsys):
    lb(servers())
    held = tmp_path / "held"
    held.write_text("gpu-node-1-canary\ngpu-node-1-stable\n")
    result, code = run_module(
        haproxy_runtime.main,
        args(tmp_path, weights={"gpu-node-1-canary": 0}, weights_if_healthy={"gpu-node-1-stable": 100}, held_servers_file=str(held)),
        capsys,
    )
    assert (code, result["changed"], result["held"]) == (0, False, ["gpu-node-1-canary", "gpu-node-1-stable"])


def test_reading_only_returns_every_server(tmp_path, lb, capsys):
    lb(servers())
    result, code = run_module(haproxy_runtime.main, args(tmp_path), capsys)
    assert (code, result["changed"]) == (0, False)
    assert result["state"]["gpu-node-1-canary"] == {"weight": 100, "scur": 0, "stot": 80, "status": "UP", "admin_state": "ready", "healthy": True}


def test_wait_healthy_fails_with_nothing_changed_when_the_server_stays_down(tmp_path, lb, capsys):
    fake = lb(servers(stable_status="DOWN"))
    result, code = run_module(haproxy_runtime.main, args(tmp_path, weights={"gpu-node-1-stable": 100, "gpu-node-1-canary": 0}, wait_healthy=1), capsys)
    assert code == 1 and "gpu-node-1-stable (DOWN)" in result["msg"]
    assert (fake.servers["gpu-node-1-stable"]["weight"], fake.servers["gpu-node-1-canary"]["weight"]) == (0, 100)
