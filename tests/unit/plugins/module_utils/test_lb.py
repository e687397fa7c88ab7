from __future__ import annotations

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils.lb import server_entries


def test_one_stable_and_one_canary_server_per_node():
    servers = server_entries(["gpu-node-3", "gpu-node-4"])
    assert [s["name"] for s in servers] == [
        "gpu-node-3-stable",
        "gpu-node-3-canary",
        "gpu-node-4-stable",
        "gpu-node-4-canary",
    ]
    assert {s["weight"] for s in servers if s["name"].endswith("-canary")} == {0}
    assert {(s["address"], s["port"]) for s in servers} == {
        ("gpu-node-3", 8000),
        ("gpu-node-3", 8001),
        ("gpu-node-4", 8000),
        ("gpu-node-4", 8001),
    }


def test_ports_and_weight_are_taken_as_integers():
    (stable, canary) = server_entries(["n"], stable_port="9000", canary_port="9001", stable_weight="50")
    assert (stable["port"], stable["weight"], canary["port"], canary["weight"]) == (9000, 50, 9001, 0)


def test_no_nodes_gives_no_servers():
    assert server_entries([]) == []


def test_step_weights_split_each_node_between_stable_and_canary():
    from ansible_collections.liveavatar.rollout.plugins.module_utils.lb import step_weights

    assert step_weights(["n1", "n2"], 25) == {"n1-stable": 75, "n1-canary": 25, "n2-stable": 75, "n2-canary": 25}
    for bad in (-1, 101):
        with pytest.raises(ValueError, match="outside 0-100"):
            step_weights(["n1"], bad)


def test_traffic_off_never_leaves_stable_servers_out_unless_they_run_the_candidate():
    from ansible_collections.liveavatar.rollout.plugins.module_utils.lb import traffic_off_weights

    assert traffic_off_weights(["n1", "n2"], candidate_stable_nodes=["n1"]) == {
        "weights": {"n1-canary": 0, "n2-canary": 0},
        "weights_if_healthy": {"n2-stable": 100},
        "weights_unless_empty": {"n1-stable": 0},
    }


def test_switch_weights_move_each_node_to_its_canary_server():
    from ansible_collections.liveavatar.rollout.plugins.module_utils.lb import switch_weights

    assert switch_weights(["n1"]) == {"n1-canary": 100, "n1-stable": 0}


def test_serving_weights_keep_only_the_nodes_healthy_servers_in_rotation():
    from ansible_collections.liveavatar.rollout.plugins.module_utils.lb import serving_weights

    state = {
        "n1-stable": {"weight": 100, "healthy": True},
        "n1-canary": {"weight": 0, "healthy": True},
        "n2-stable": {"weight": 60, "healthy": True},
        "n2-canary": {"weight": 40, "healthy": False},
        "n3-stable": {"weight": 100, "healthy": True},
    }
    assert serving_weights(state, ["n1", "n2"]) == {"n1-stable": 100, "n2-stable": 60}
    assert serving_weights(state, ["n9"]) == {}
    assert serving_weights({}, ["n1"]) == {}
