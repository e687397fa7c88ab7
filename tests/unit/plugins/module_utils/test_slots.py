"""The fleet as GPU slots (issue 14, groundwork): placement, promotion batches, drain deadline, table-tested."""

from __future__ import annotations

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils import slots as sl

# 2 serving nodes with 2 simulated 80 GB GPUs each (4 slots), the lab shape issue 14 asks for, plus one spare.
NODES = {
    "gpu-node-3": [{"name": "a", "gpus": [0], "memory_mib": 78000, "gpu_memory_mib": 81920}, {"name": "b", "gpus": [1], "memory_mib": 78000}],
    "gpu-node-4": [{"name": "a", "gpus": [0], "memory_mib": 78000}, {"name": "b", "gpus": [1], "memory_mib": 78000}],
    "gpu-node-5": [{"name": "a", "gpus": [0, 1, 2, 3], "memory_mib": 40000, "spare": True}],
}


def test_every_slot_is_one_lb_server():
    slots = sl.fleet_slots(NODES)
    assert [s["server"] for s in slots] == ["gpu-node-3-a", "gpu-node-3-b", "gpu-node-4-a", "gpu-node-4-b", "gpu-node-5-a"]
    assert slots[-1]["spare"] and slots[-1]["gpus"] == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        ({"n": [{"name": "a", "gpus": [0], "memory_mib": 1}, {"name": "b", "gpus": [0], "memory_mib": 1}]}, "n: GPU 0 is in slots a and b"),
        ({"n": [{"name": "a", "gpus": [0], "memory_mib": 1}, {"name": "a", "gpus": [1], "memory_mib": 1}]}, "n: two slots are named a"),
        ({"n": [{"name": "a-1", "gpus": [0], "memory_mib": 1}]}, "must be letters and digits"),
        ({"n": [{"name": "a", "gpus": [], "memory_mib": 1}]}, "must be a non-empty list of GPU indexes"),
        ({"n": [{"name": "a", "gpus": ["0"], "memory_mib": 1}]}, "must be a non-empty list of GPU indexes"),
        ({"n": [{"name": "a", "gpus": [0], "memory_mib": 0}]}, "memory_mib 0 must be a positive"),
        ({"n": [{"name": "a", "gpus": [0], "memory_mib": 1, "spare": True}]}, "the fleet has no serving slot"),
    ],
)
def test_an_inventory_that_cannot_work_is_refused_naming_host_and_slot(nodes, message):
    with pytest.raises(sl.SlotError, match=message):
        sl.fleet_slots(nodes)


@pytest.mark.parametrize(
    ("mode", "count", "canary", "drained", "serving_while_loading"),
    [
        ("replace", 1, ["gpu-node-3-a"], ["gpu-node-3-a"], 3),
        ("replace", 2, ["gpu-node-3-a", "gpu-node-3-b"], ["gpu-node-3-a", "gpu-node-3-b"], 2),
        ("surge", 1, ["gpu-node-5-a"], [], 4),
    ],
)
def test_canary_placement_takes_a_slot_and_never_a_second_instance_on_a_gpu(mode, count, canary, drained, serving_while_loading):
    plan = sl.plan_canary(sl.fleet_slots(NODES), mode, count)
    assert (plan["canary"], plan["drained_for_canary"], plan["serving_while_loading"]) == (canary, drained, serving_while_loading)


@pytest.mark.parametrize(
    ("mode", "count", "message"),
    [
        ("beside", 1, r"gpu-node-3 slot a: beside needs 2 x 78000 MiB per GPU, the GPU has 81920 MiB: use replace or surge"),
        ("surge", 2, "surge needs 2 spare slot"),
        ("replace", 4, "stable would have no slot left"),
        ("sideways", 1, "is not one of replace, surge, beside"),
        ("replace", 0, "at least 1"),
    ],
)
def test_a_placement_that_does_not_fit_is_refused(mode, count, message):
    with pytest.raises(sl.SlotError, match=message):
        sl.plan_canary(sl.fleet_slots(NODES), mode, count)


def test_beside_is_allowed_where_the_gpu_holds_both():
    nodes = {"n": [{"name": "a", "gpus": [0], "memory_mib": 30000, "gpu_memory_mib": 81920}, {"name": "b", "gpus": [1], "memory_mib": 30000}]}
    plan = sl.plan_canary(sl.fleet_slots(nodes), "beside", 1)
    assert plan["canary"] == ["n-a"] and plan["drained_for_canary"] == [] and plan["serving_while_loading"] == 2


@pytest.mark.parametrize(
    ("batch_size", "max_unavailable_pct", "batches", "size"),
    [
        (1, 25, [["gpu-node-3-b"], ["gpu-node-4-a"], ["gpu-node-4-b"]], 1),
        (2, 50, [["gpu-node-3-b", "gpu-node-4-a"], ["gpu-node-4-b"]], 2),
        # A batch of 3 on 4 slots would leave one serving: 50 % caps it at 2.
        (3, 50, [["gpu-node-3-b", "gpu-node-4-a"], ["gpu-node-4-b"]], 2),
    ],
)
def test_promotion_converts_the_other_slots_in_bounded_batches_with_one_load_each(batch_size, max_unavailable_pct, batches, size):
    slots = sl.fleet_slots(NODES)
    plan = sl.promotion_batches(slots, ["gpu-node-3-a"], batch_size, max_unavailable_pct)
    assert plan["batches"] == batches and plan["batch_size"] == size
    assert plan["model_loads"] == 4 - 1, "model loads = slots - canary slots"


def test_promotion_refuses_bounds_that_mean_nothing():
    slots = sl.fleet_slots(NODES)
    with pytest.raises(sl.SlotError, match="batch_size 0"):
        sl.promotion_batches(slots, [], 0)
    with pytest.raises(sl.SlotError, match="max_unavailable_pct 100"):
        sl.promotion_batches(slots, [], 1, 100)


def test_the_drain_deadline_covers_the_longest_job():
    assert sl.drain_deadline_s(max_clips=100, clip_time_s=1.5) == 180
    with pytest.raises(sl.SlotError):
        sl.drain_deadline_s(0, 1.0)


def test_each_step_counts_slots_serving_stable_candidate_and_none():
    slots = sl.fleet_slots(NODES)
    weights = {"gpu-node-3-a": 5, "gpu-node-3-b": 95, "gpu-node-4-a": 95, "gpu-node-4-b": 0, "gpu-node-5-a": 0}
    assert sl.step_slots(slots, weights, ["gpu-node-3-a"]) == {"stable": 2, "candidate": 1, "none": 2}


def test_the_drain_deadline_filter_rounds_up_and_refuses_in_one_line():
    from ansible.errors import AnsibleFilterError

    from ansible_collections.liveavatar.rollout.plugins.filter.drain_deadline import FilterModule

    deadline = FilterModule().filters()["drain_deadline"]
    assert deadline(20, 12) == 288 and deadline("10", "1.5", 0) == 15
    with pytest.raises(AnsibleFilterError, match="drain_deadline: max_clips 0 and clip_time_s 12.0 must be positive"):
        deadline(0, 12)


@pytest.mark.parametrize(
    ("candidates", "share", "expected_share", "candidate_weight", "stable_weight"),
    [
        (["gpu-node-3-a"], 5, 5.0, 16, 100),  # 1 of 4 slots: 16 / (16 + 300) = 5.06 %, rounded weights
        (["gpu-node-3-a"], 25, 25.0, 100, 100),
        (["gpu-node-3-a"], 50, 50.0, 256, 85),  # 300 would exceed HAProxy's 256: stable comes down instead
        (["gpu-node-3-a", "gpu-node-4-a"], 50, 50.0, 100, 100),
        (["gpu-node-3-a"], 100, 100.0, 100, 0),
        (["gpu-node-3-a"], 0, 0.0, 0, 100),
    ],
)
def test_step_weights_give_the_candidate_slots_their_share(candidates, share, expected_share, candidate_weight, stable_weight):
    fleet = sl.fleet_slots(NODES)
    got = sl.step_weights(fleet, candidates, share)
    assert abs(got["share_pct"] - expected_share) < 0.6
    assert {got["weights"][c] for c in candidates} == {candidate_weight}
    assert {w for s, w in got["weights"].items() if s not in candidates} == {stable_weight}
    assert all(0 <= w <= 256 for w in got["weights"].values())


def test_step_weights_refuse_what_cannot_be_a_step():
    fleet = sl.fleet_slots(NODES)
    with pytest.raises(sl.SlotError, match="share 101 must be in 0-100 %"):
        sl.step_weights(fleet, ["gpu-node-3-a"], 101)
    with pytest.raises(sl.SlotError, match="no candidate slot"):
        sl.step_weights(fleet, [], 5)
