"""The rollout's extra vars: what is accepted as given, what is normalised, and the one line for each refusal."""

from __future__ import annotations

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils import rollout_inputs as ri

DEFAULTS = {"version": "v1.1", "stages": [1, 2, 3], "steps": [5, 25, 50, 100], "bake_time": 20, "manual_promotion": False, "tolerances": {}}


def test_defaults_for_everything_but_the_version():
    assert ri.normalize({"version": "v1.1"}) == DEFAULTS


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"stages": "3"}, {"stages": [3]}),
        ({"stages": 2}, {"stages": [2]}),
        ({"stages": "2,1"}, {"stages": [1, 2]}),
        ({"stages": ["1", 2]}, {"stages": [1, 2]}),
        ({"steps": "100"}, {"steps": [100]}),
        ({"steps": "5, 50, 100"}, {"steps": [5, 50, 100]}),
        ({"steps": [1, 100]}, {"steps": [1, 100]}),
        ({"bake_time": "0"}, {"bake_time": 0}),
        ({"bake_time": 3600}, {"bake_time": 3600}),
        ({"manual_promotion": "yes"}, {"manual_promotion": True}),
        ({"manual_promotion": "False"}, {"manual_promotion": False}),
        ({"tolerances": {"clip_time_s": {"tolerance_pct": 15}}}, {"tolerances": {"clip_time_s": {"tolerance_pct": 15.0}}}),
        ({"tolerances": {"psnr_db": {"tolerance_pct": "2.5"}}}, {"tolerances": {"psnr_db": {"tolerance_pct": 2.5}}}),
        ({"tolerances": ""}, {"tolerances": {}}),
    ],
)
def test_accepted_inputs_are_normalised(raw, expected):
    assert ri.normalize({"version": "v1.1", **raw}) == {**DEFAULTS, **expected}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"version": None}, "give the version to release, e.g. -e version=v1.1"),
        ({"version": "1.1"}, "version '1.1' is not vMAJOR.MINOR[.PATCH]"),
        ({"version": "v1.1\n"}, "version 'v1.1\\n' is not vMAJOR.MINOR[.PATCH]"),
        ({"version": "v" + "1" * 300 + ".1"}, "is not vMAJOR.MINOR[.PATCH]"),
        ({"version": "v\u0661.\u0661"}, "is not vMAJOR.MINOR[.PATCH]"),
        ({"version": "v01.1"}, "is not vMAJOR.MINOR[.PATCH]"),
        ({"version": 1.1}, "version 1.1 is not vMAJOR.MINOR[.PATCH]"),
        ({"stages": "1,4"}, "stages '1,4' must be a subset of 1,2,3, each once"),
        ({"stages": "1,1"}, "must be a subset of 1,2,3, each once"),
        ({"stages": ""}, "must be a subset of 1,2,3"),
        ({"stages": True}, "must be a subset of 1,2,3"),
        ({"steps": [50, 5]}, "steps [50, 5] must be integers in 1-100, strictly increasing"),
        ({"steps": [5, 5, 100]}, "strictly increasing"),
        ({"steps": [1]}, "the last step promotes, so it must be 100"),
        ({"steps": "5,50"}, "the last step promotes, so it must be 100"),
        ({"steps": [0, 100]}, "must be integers in 1-100"),
        ({"steps": [5, 101]}, "must be integers in 1-100"),
        ({"steps": "5\n,100"}, "must be integers in 1-100"),
        ({"steps": "\u0665,100"}, "must be integers in 1-100"),
        ({"steps": "05,100"}, "must be integers in 1-100"),
        ({"steps": "1" * 300}, "must be integers in 1-100"),
        ({"steps": [5.5, 100]}, "must be integers in 1-100"),
        ({"bake_time": "soon"}, "bake_time 'soon' must be whole seconds in 0-3600"),
        ({"bake_time": "20\n"}, "must be whole seconds"),
        ({"bake_time": 3601}, "must be whole seconds"),
        ({"bake_time": -1}, "must be whole seconds"),
        ({"manual_promotion": "maybe"}, "manual_promotion 'maybe' must be true or false"),
        ({"tolerances": "loose"}, "tolerances 'loose' must be a mapping"),
        ({"tolerances": {"clip_time": {"tolerance_pct": 10}}}, "tolerances: 'clip_time' is not a benchmark metric"),
        ({"tolerances": {"clip_time_s": {"tolerance_pct": 1000}}}, "clip_time_s tolerance_pct 1000 must be a number in 0-100"),
        ({"tolerances": {"psnr_db": {"tolerance_pct": 100}}}, "psnr_db tolerance_pct 100 must be a number in 0-20"),
        ({"tolerances": {"clip_time_s": {"tolerance_pct": -5}}}, "must be a number in 0-100"),
        ({"tolerances": {"clip_time_s": {"tolerance_pct": "nan"}}}, "must be a number in 0-100"),
        ({"tolerances": {"clip_time_s": {"tolerance_pct": float("inf")}}}, "must be a number in 0-100"),
        ({"tolerances": {"clip_time_s": {"tolerance_pct": True}}}, "must be a number in 0-100"),
        ({"tolerances": {"psnr_db": {"tolerance_pct": 2, "direction": "lower_is_better"}}}, "(direction cannot be set from extra vars)"),
        ({"tolerances": {"psnr_db": {"tolerance_pct": 2, "optional": True}}}, "(optional cannot be set from extra vars)"),
        ({"tolerances": {"psnr_db": {}}}, "psnr_db must be {tolerance_pct: <number>} only"),
        ({"tolerances": {"psnr_db": 2}}, "psnr_db must be {tolerance_pct: <number>} only"),
    ],
)
def test_refusals_are_one_line_naming_the_input(raw, message):
    with pytest.raises(ri.InputError) as refused:
        ri.normalize({"version": "v1.1", **raw})
    text = str(refused.value)
    assert message in text and text.startswith("rollout: ") and text.endswith("; nothing was changed") and "\n" not in text


@pytest.mark.parametrize(
    ("ceiling", "tolerance", "accepted"),
    [
        ({"lower_is_better": 1000}, {"clip_time_s": {"tolerance_pct": 1000}}, True),
        ({"higher_is_better": 99}, {"psnr_db": {"tolerance_pct": 99}}, True),
        ({}, {"vram_peak_gb": {"tolerance_pct": 100}}, True),
        ({}, {"vram_peak_gb": {"tolerance_pct": 100.5}}, False),
        ({"lower_is_better": 0}, {"nccl_latency_us": {"tolerance_pct": 1}}, False),
    ],
)
def test_the_inventory_ceiling_bounds_the_extra_vars(ceiling, tolerance, accepted):
    if accepted:
        assert ri.normalize({"version": "v1.1", "tolerances": tolerance}, ceiling)["tolerances"]
    else:
        with pytest.raises(ri.InputError, match="the inventory's ceiling"):
            ri.normalize({"version": "v1.1", "tolerances": tolerance}, ceiling)


@pytest.mark.parametrize(
    "ceiling",
    [{"higher_is_better": 100}, {"lower_is_better": -1}, {"lower_is_better": "lots"}, {"sideways": 5}],
)
def test_a_ceiling_that_would_disable_a_gate_is_refused(ceiling):
    with pytest.raises(ri.InputError, match="tolerance ceiling"):
        ri.normalize({"version": "v1.1"}, ceiling)
