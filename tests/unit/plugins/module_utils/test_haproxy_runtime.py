"""HAProxy runtime API commands, replies and weight plans, table-driven (no socket)."""

from __future__ import annotations

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils import haproxy_runtime as hr

HEADER = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck"


def row(px, sv, scur=0, stot=0, status="UP", weight=100):
    return f"{px},{sv},0,0,{scur},0,,{stot},0,0,,0,,0,0,0,0,{status},{weight},1,0"


STAT = "\n".join(
    [
        HEADER,
        row("stats", "FRONTEND", status="OPEN", weight=0),
        row("liveavatar", "gpu-node-1-stable", scur=2, stot=900, weight=0),
        row("liveavatar", "gpu-node-1-canary", stot=100, weight=100),
        row("liveavatar", "gpu-node-2-stable", stot=50, status="DOWN", weight=0),
        row("liveavatar", "gpu-node-2-canary", stot=10, status="MAINT", weight=0),
        row("liveavatar", "BACKEND", scur=2, stot=1060, weight=100),
        "",
    ]
)


def state():
    return hr.parse_show_stat(STAT, "liveavatar")


def test_parse_show_stat_reads_every_server_of_the_backend_only():
    servers = state()
    assert sorted(servers) == ["gpu-node-1-canary", "gpu-node-1-stable", "gpu-node-2-canary", "gpu-node-2-stable"]
    assert servers["gpu-node-1-stable"] == {"weight": 0, "scur": 2, "stot": 900, "status": "UP", "admin_state": "ready", "healthy": True}
    assert servers["gpu-node-2-stable"]["healthy"] is False
    assert servers["gpu-node-2-canary"]["admin_state"] == "maint"


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ("", "an empty reply"),
        ("Unknown command. Please enter one of the following commands only :\n  help\n", "not HAProxy's CSV"),
        ("Permission denied\n", "not HAProxy's CSV"),
        ("# pxname,svname,scur\nliveavatar,a,0\n", "no column stot, status, weight"),
        (HEADER + "\nliveavatar,gpu-node-1-stable,0\n", "fewer than its header"),
        (HEADER + "\n" + row("liveavatar", "s", stot="x"), "counter that is not a number"),
        (HEADER + "\n" + row("other", "s"), "backend liveavatar does not exist"),
    ],
)
def test_parse_show_stat_refuses_malformed_replies(reply, message):
    with pytest.raises(hr.RuntimeApiError, match=message):
        hr.parse_show_stat(reply, "liveavatar")


@pytest.mark.parametrize(
    ("status", "healthy", "admin"),
    [
        ("UP", True, "ready"),
        ("UP 1/3", True, "ready"),
        ("no check", True, "ready"),
        ("DOWN", False, "ready"),
        ("DOWN 1/2", False, "ready"),
        ("NOLB", False, "ready"),
        ("MAINT", False, "maint"),
        ("MAINT (resolution)", False, "maint"),
        ("DRAIN", False, "drain"),
    ],
)
def test_health_and_admin_state_from_status(status, healthy, admin):
    assert hr.is_healthy(status) is healthy
    assert hr.admin_state(status) == admin


@pytest.mark.parametrize(
    ("server", "weight", "expected"),
    [
        ("gpu-node-1-canary", 0, "set weight liveavatar/gpu-node-1-canary 0"),
        ("gpu-node-1-canary", "256", "set weight liveavatar/gpu-node-1-canary 256"),
    ],
)
def test_set_weight_command(server, weight, expected):
    assert hr.set_weight_command("liveavatar", server, weight) == expected


@pytest.mark.parametrize(
    ("server", "weight", "message"),
    [
        ("a;shutdown sessions server liveavatar/b", 0, "not a plain HAProxy name"),
        ("a b", 0, "not a plain HAProxy name"),
        ("a\n", 0, "not a plain HAProxy name"),
        ("", 0, "not a plain HAProxy name"),
        ("a", 257, "above HAProxy's maximum 256"),
        ("a", -1, "not an integer"),
        ("a", "50%", "not an integer"),
        ("a", True, "not an integer"),
        ("a", 1.5, "not an integer"),
        ("a", "١٠", "not an integer"),
    ],
)
def test_set_weight_command_refuses_unsafe_input(server, weight, message):
    with pytest.raises(hr.RuntimeApiError, match=message):
        hr.set_weight_command("liveavatar", server, weight)


@pytest.mark.parametrize(
    ("reply", "ok"),
    [("", True), ("\n\n\n", True), ("No such server.\n\n", False), ("\nPermission denied\n", False), ("Require 'backend/server'.\n", False)],
)
def test_check_set_reply(reply, ok):
    commands = ["set weight liveavatar/a 0", "set weight liveavatar/b 100"]
    if ok:
        hr.check_set_reply(reply, commands)
    else:
        with pytest.raises(hr.RuntimeApiError, match="refused part of the batch"):
            hr.check_set_reply(reply, commands)


def test_plan_weights_changes_only_what_differs():
    changes = hr.plan_weights(state(), {"gpu-node-1-canary": 100, "gpu-node-2-canary": 0, "gpu-node-1-stable": 100})
    assert changes == {"gpu-node-1-stable": {"before": 0, "after": 100}}


def test_plan_weights_if_healthy_skips_a_server_that_is_down():
    changes = hr.plan_weights(state(), {"gpu-node-1-canary": 0}, {"gpu-node-1-stable": 100, "gpu-node-2-stable": 100})
    assert changes == {"gpu-node-1-canary": {"before": 100, "after": 0}, "gpu-node-1-stable": {"before": 0, "after": 100}}


def test_plan_weights_leaves_held_servers_alone():
    changes = hr.plan_weights(state(), {"gpu-node-1-canary": 0, "gpu-node-1-stable": 100}, held=["gpu-node-1-canary"])
    assert changes == {"gpu-node-1-stable": {"before": 0, "after": 100}}


def test_plan_weights_refuses_an_unknown_server_naming_it():
    with pytest.raises(hr.RuntimeApiError, match="server gpu-node-9-stable does not exist in the backend"):
        hr.plan_weights(state(), {"gpu-node-9-stable": 100})


def test_ordered_commands_raise_before_they_lower():
    changes = {"a-canary": {"before": 100, "after": 0}, "a-stable": {"before": 0, "after": 100}, "b-stable": {"before": 5, "after": 95}}
    assert hr.ordered_commands("be", changes) == ["set weight be/a-stable 100", "set weight be/b-stable 95", "set weight be/a-canary 0"]


@pytest.mark.parametrize(
    ("weights", "refused"),
    [
        ({"gpu-node-1-canary": 0}, True),  # abort at 100 % without the stable servers: the pool would be empty
        ({"gpu-node-1-canary": 0, "gpu-node-1-stable": 100}, False),
        ({"gpu-node-1-canary": 0, "gpu-node-2-stable": 100}, True),  # the only stable server given is down
        ({"gpu-node-1-canary": 50}, False),
        ({}, False),
    ],
)
def test_check_pool_kept(weights, refused):
    current = state()
    changes = hr.plan_weights(current, weights)
    if refused:
        with pytest.raises(hr.RuntimeApiError, match="no healthy server in rotation"):
            hr.check_pool_kept("liveavatar", current, changes)
    else:
        hr.check_pool_kept("liveavatar", current, changes)


def test_verify_applied_names_the_server_that_did_not_take_the_weight():
    changes = {"gpu-node-1-stable": {"before": 0, "after": 100}}
    with pytest.raises(hr.RuntimeApiError, match="gpu-node-1-stable reads weight 0 after it was set to 100"):
        hr.verify_applied("liveavatar", state(), changes)


def test_busy_servers_and_traffic_share():
    current = state()
    assert hr.busy_servers(current, ["gpu-node-1-stable", "gpu-node-1-canary"]) == {"gpu-node-1-stable": 2}
    later = {name: dict(values, stot=values["stot"] + (30 if name.endswith("-canary") else 70)) for name, values in current.items()}
    share = hr.traffic_share(current, later)
    assert share["requests"] == 200
    assert share["share_pct"] == 30.0
    assert hr.traffic_share(current, current)["share_pct"] is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", []), ("gpu-node-1-canary\n\n# note\ngpu-node-1-stable\n", ["gpu-node-1-canary", "gpu-node-1-stable"])],
)
def test_parse_held_servers(text, expected):
    assert hr.parse_held_servers(text) == expected


def test_parse_held_servers_refuses_a_line_that_is_not_a_name():
    with pytest.raises(hr.RuntimeApiError, match="held server name"):
        hr.parse_held_servers("gpu-node-1 canary\n")


def test_weights_unless_empty_apply_when_another_server_keeps_serving():
    current = state()
    current["gpu-node-2-stable"].update(status="UP", healthy=True)
    changes, kept = hr.plan_with_fallback(current, {"gpu-node-1-canary": 0}, {"gpu-node-2-stable": 100}, {"gpu-node-1-stable": 0})
    assert kept == []
    assert changes == {"gpu-node-1-canary": {"before": 100, "after": 0}, "gpu-node-2-stable": {"before": 0, "after": 100}}


def test_weights_unless_empty_are_dropped_when_they_would_empty_the_pool():
    current = state()
    current["gpu-node-1-stable"]["weight"] = 100
    changes, kept = hr.plan_with_fallback(current, {"gpu-node-1-canary": 0}, {"gpu-node-2-stable": 100}, {"gpu-node-1-stable": 0})
    assert kept == ["gpu-node-1-stable"]
    assert changes == {"gpu-node-1-canary": {"before": 100, "after": 0}}
    hr.check_pool_kept("liveavatar", current, changes)
