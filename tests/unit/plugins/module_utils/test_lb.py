from __future__ import annotations

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
