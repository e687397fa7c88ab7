# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load-balancer naming and weight arithmetic shared by the roles, modules and playbooks."""

from __future__ import annotations

STABLE_SUFFIX = "-stable"
CANARY_SUFFIX = "-canary"


def server_entries(nodes, stable_port=8000, canary_port=8001, stable_weight=100):
    """One stable server in rotation and one canary server at weight 0 per node."""
    entries = []
    for node in nodes:
        entries.append({"name": node + STABLE_SUFFIX, "address": node, "port": int(stable_port), "weight": int(stable_weight)})
        entries.append({"name": node + CANARY_SUFFIX, "address": node, "port": int(canary_port), "weight": 0})
    return entries


def step_weights(nodes, canary_weight, serving_weight=100):
    """Weights of one traffic step: every canary server at w, every stable server at serving_weight - w."""
    canary = int(canary_weight)
    if not 0 <= canary <= int(serving_weight):
        raise ValueError(f"canary weight {canary} is outside 0-{serving_weight}")
    weights = {}
    for node in nodes:
        weights[node + STABLE_SUFFIX] = int(serving_weight) - canary
        weights[node + CANARY_SUFFIX] = canary
    return weights


def traffic_off_weights(nodes, candidate_stable_nodes=(), serving_weight=100):
    """The batch that takes traffic off a candidate without emptying the pool.

    Every canary server goes to 0; every stable server that still runs stable goes back to serving_weight if HAProxy
    sees it healthy; the stable server of a node whose stable container already runs the candidate (a promotion
    half-way) goes to 0 unless nothing else would then serve (haproxy_runtime's weights_unless_empty).
    """
    weights, if_healthy, unless_empty = {}, {}, {}
    for node in nodes:
        weights[node + CANARY_SUFFIX] = 0
        if node in candidate_stable_nodes:
            unless_empty[node + STABLE_SUFFIX] = 0
        else:
            if_healthy[node + STABLE_SUFFIX] = int(serving_weight)
    return {"weights": weights, "weights_if_healthy": if_healthy, "weights_unless_empty": unless_empty}


def switch_weights(nodes, serving_weight=100):
    """A rollback's switch: each node's canary server (the target) to serving_weight, its stable server (bad) to 0."""
    weights = {}
    for node in nodes:
        weights[node + CANARY_SUFFIX] = int(serving_weight)
        weights[node + STABLE_SUFFIX] = 0
    return weights


def serving_weights(state, nodes):
    """{server: weight} of the nodes' servers that take traffic now (healthy, weight above 0): what a drain takes out
    and its restore puts back; a server that is down or already out stays as it is."""
    weights = {}
    for node in nodes:
        for server in (node + STABLE_SUFFIX, node + CANARY_SUFFIX):
            entry = state.get(server) or {}
            if entry.get("healthy") and int(entry.get("weight") or 0) > 0:
                weights[server] = int(entry["weight"])
    return weights
