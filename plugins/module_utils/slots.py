# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The serving fleet as GPU slots: one instance per slot, one LB server per slot (issue 14).

A slot is the GPU set one instance uses on one node (one 80 GB GPU, or a 4-GPU set). Two instances never
share a GPU: the canary takes a slot (replace), a spare slot (surge), or sits beside stable only where the
GPU memory proves both fit (beside). Promotion converts the other slots in batches bounded by the share of
slots allowed to be out of service at once.
"""

from __future__ import annotations

import math

MODES = ("replace", "surge", "beside")


class SlotError(ValueError):
    """An inventory of slots or a plan that cannot work; the message says which host and slot."""


def fleet_slots(nodes):
    """{host: [{name, gpus, memory_mib, spare?, gpu_memory_mib?}]} -> the slots, each with its LB server name."""
    slots = []
    for host in sorted(nodes):
        names, used = set(), {}
        for entry in nodes[host] or []:
            name = entry.get("name")
            if not isinstance(name, str) or not name.isalnum():
                raise SlotError(f"{host}: slot name {name!r} must be letters and digits (it names the LB server)")
            if name in names:
                raise SlotError(f"{host}: two slots are named {name}")
            names.add(name)
            gpus = entry.get("gpus")
            if not isinstance(gpus, list) or not gpus or not all(isinstance(g, int) and g >= 0 for g in gpus):
                raise SlotError(f"{host} slot {name}: gpus {gpus!r} must be a non-empty list of GPU indexes")
            for gpu in gpus:
                if gpu in used:
                    raise SlotError(f"{host}: GPU {gpu} is in slots {used[gpu]} and {name}; one instance per GPU")
                used[gpu] = name
            memory = entry.get("memory_mib")
            if not isinstance(memory, int) or memory <= 0:
                raise SlotError(f"{host} slot {name}: memory_mib {memory!r} must be a positive number of MiB per GPU")
            slots.append(
                {
                    "host": host,
                    "slot": name,
                    "server": f"{host}-{name}",
                    "gpus": list(gpus),
                    "memory_mib": memory,
                    "gpu_memory_mib": entry.get("gpu_memory_mib"),
                    "spare": bool(entry.get("spare", False)),
                }
            )
    if not [s for s in slots if not s["spare"]]:
        raise SlotError("the fleet has no serving slot")
    return slots


def plan_canary(slots, mode="replace", canary_slots=1):
    """Which slots take the canary, and what serves while it loads.

    replace: the first `canary_slots` serving slots are drained and take the candidate (capacity drops by them while
    it loads); surge: spare slots take it (capacity never drops); beside: the candidate shares a serving slot's GPUs,
    allowed only where the slot's GPU memory holds both instances.
    """
    if mode not in MODES:
        raise SlotError(f"canary mode {mode!r} is not one of {', '.join(MODES)}")
    serving = [s for s in slots if not s["spare"]]
    spare = [s for s in slots if s["spare"]]
    if not isinstance(canary_slots, int) or canary_slots < 1:
        raise SlotError(f"canary_slots {canary_slots!r} must be a whole number of slots, at least 1")
    if mode == "surge":
        if len(spare) < canary_slots:
            raise SlotError(f"surge needs {canary_slots} spare slot(s); the inventory names {len(spare)}")
        chosen, drained = spare[:canary_slots], []
    else:
        if len(serving) <= canary_slots and mode == "replace":
            raise SlotError(f"replace would drain {canary_slots} of {len(serving)} serving slot(s): stable would have no slot left")
        chosen = serving[:canary_slots]
        drained = [s["server"] for s in chosen] if mode == "replace" else []
        if mode == "beside":
            for s in chosen:
                if not s["gpu_memory_mib"] or 2 * s["memory_mib"] > s["gpu_memory_mib"]:
                    raise SlotError(
                        f"{s['host']} slot {s['slot']}: beside needs 2 x {s['memory_mib']} MiB per GPU, "
                        f"the GPU has {s['gpu_memory_mib'] or 'an unknown amount of'} MiB: use replace or surge"
                    )
    return {
        "mode": mode,
        "canary": [s["server"] for s in chosen],
        "drained_for_canary": drained,
        "serving_while_loading": len(serving) - len(drained),
        "serving_slots": len(serving),
    }


def promotion_batches(slots, canary, batch_size=1, max_unavailable_pct=25):
    """The slots still on stable, in batches; a batch never takes more slots out than max_unavailable_pct allows.

    The canary slots keep serving as the new stable (no second model load): loads = serving slots - canary slots.
    """
    serving = [s["server"] for s in slots if not s["spare"]]
    if not isinstance(batch_size, int) or batch_size < 1:
        raise SlotError(f"batch_size {batch_size!r} must be a whole number of slots, at least 1")
    if not 0 < float(max_unavailable_pct) < 100:
        raise SlotError(f"max_unavailable_pct {max_unavailable_pct!r} must be above 0 and under 100")
    allowed = max(1, math.floor(len(serving) * float(max_unavailable_pct) / 100))
    size = min(batch_size, allowed)
    to_convert = [s for s in serving if s not in canary]
    batches = [to_convert[i : i + size] for i in range(0, len(to_convert), size)]
    return {"batches": batches, "batch_size": size, "model_loads": len(to_convert), "max_unavailable": allowed}


def drain_deadline_s(max_clips, clip_time_s, margin_pct=20):
    """How long a draining slot keeps its in-flight sessions: the longest expected job plus a margin."""
    if max_clips <= 0 or clip_time_s <= 0:
        raise SlotError(f"max_clips {max_clips!r} and clip_time_s {clip_time_s!r} must be positive")
    return math.ceil(max_clips * clip_time_s * (1 + margin_pct / 100))


def step_slots(slots, weights, candidate_servers):
    """Each traffic step's count of slots serving stable, serving the candidate, and serving nothing."""
    counts = {"stable": 0, "candidate": 0, "none": 0}
    for server in [s["server"] for s in slots] + [c for c in candidate_servers if c not in {s["server"] for s in slots}]:
        weight = int(weights.get(server, 0) or 0)
        if weight <= 0:
            counts["none"] += 1
        elif server in candidate_servers:
            counts["candidate"] += 1
        else:
            counts["stable"] += 1
    return counts


MAX_WEIGHT = 256  # HAProxy's largest server weight


def step_weights(slots, candidate_servers, share_pct, serving_weight=100):
    """Per-server weights that give the candidate's slots `share_pct` % of new sessions, and the share they give.

    With k candidate slots and n stable slots the share is k*wc / (k*wc + n*ws). Stable slots keep serving_weight
    while the candidate's weight fits under HAProxy's 256; past that, stable's weight comes down instead.
    """
    share = float(share_pct)
    if not 0 <= share <= 100:
        raise SlotError(f"share {share_pct!r} must be in 0-100 %")
    servers = [s["server"] for s in slots if not s["spare"] or s["server"] in candidate_servers]
    candidate = [s for s in servers if s in candidate_servers]
    stable = [s for s in servers if s not in candidate_servers]
    if not candidate:
        raise SlotError("no candidate slot to give traffic to")
    if share == 100 or not stable:
        wc, ws = serving_weight, 0
    elif share == 0:
        wc, ws = 0, serving_weight
    else:
        ratio = share / (100 - share)
        ws = serving_weight
        wc = ratio * len(stable) * ws / len(candidate)
        if wc > MAX_WEIGHT:
            wc, ws = MAX_WEIGHT, max(1, round(len(candidate) * MAX_WEIGHT / (ratio * len(stable))))
        wc = max(1, round(wc))
    weights = {**dict.fromkeys(stable, ws), **dict.fromkeys(candidate, wc)}
    total = len(candidate) * wc + len(stable) * ws
    return {"weights": weights, "share_pct": round(100 * len(candidate) * wc / total, 2) if total else 0.0}
