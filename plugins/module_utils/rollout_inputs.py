# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A rollout's extra vars, checked and normalised before anything changes; each refusal is one line naming the input.

Numbers are ASCII digits matched in full, without leading zeros and with a length cap ('5\\n', '٥' and a
300-digit step are refused, not converted). Traffic steps rise strictly and end at 100. Tolerances from
extra vars may only set `tolerance_pct` of a known benchmark metric, up to the inventory's ceiling for
the metric's direction: they cannot flip a direction, make a metric optional or add a metric.
"""

from __future__ import annotations

import math
import re

from ansible_collections.liveavatar.rollout.plugins.module_utils.benchmark import DEFAULT_TOLERANCES, HIGHER_IS_BETTER, LOWER_IS_BETTER
from ansible_collections.liveavatar.rollout.plugins.module_utils.release_version import MAX_LENGTH, is_release_version

DEFAULT_STAGES = (1, 2, 3)
DEFAULT_STEPS = (5, 25, 50, 100)
DEFAULT_BAKE_TIME = 20
MAX_BAKE_TIME = 3600
# A candidate at most 2x the baseline where lower is better, at most 20 % below it where higher is better.
DEFAULT_CEILING_PCT = {LOWER_IS_BETTER: 100.0, HIGHER_IS_BETTER: 20.0}
_INTEGER = re.compile(r"0|[1-9][0-9]{0,5}")
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]{0,5})(?:\.[0-9]{1,6})?")
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


class InputError(ValueError):
    """An extra var that cannot be used; str() is the one line an operator reads."""


def _refuse(message):
    raise InputError(f"rollout: {message}; nothing was changed")


def _shown(value):
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _integer(value):
    """A non-negative int under 10**6 from an int or a string of ASCII digits (no sign, no leading zero); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < 10**6 else None
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip(" ")):
        return int(value.strip(" "))
    return None


def _decimal(value):
    """A finite float from a number or an ASCII decimal string; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str) and _DECIMAL.fullmatch(value.strip(" ")):
        return float(value.strip(" "))
    return None


def _integer_list(value):
    """[ints] from a list, one int, or 'a,b,c'; None when any element is not an integer."""
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        items = [value]
    numbers = [_integer(item) for item in items]
    return None if not numbers or any(n is None for n in numbers) else numbers


def version(value):
    if value is None or value == "":
        _refuse("give the version to release, e.g. -e version=v1.1")
    if not is_release_version(value):
        _refuse(f"version {_shown(value)} is not vMAJOR.MINOR[.PATCH] (e.g. v1.1, ASCII digits, at most {MAX_LENGTH} characters)")
    return value


def stages(value):
    numbers = _integer_list(DEFAULT_STAGES if value is None else value)
    if numbers is None or any(n not in DEFAULT_STAGES for n in numbers) or len(set(numbers)) != len(numbers):
        _refuse(f"stages {_shown(value)} must be a subset of 1,2,3, each once")
    return sorted(numbers)


def steps(value):
    numbers = _integer_list(DEFAULT_STEPS if value is None else value)
    rule = "must be integers in 1-100, strictly increasing and ending at 100 (e.g. 5,25,50,100)"
    if numbers is None or any(not 1 <= n <= 100 for n in numbers) or numbers != sorted(set(numbers)):
        _refuse(f"steps {_shown(value)} {rule}")
    if numbers[-1] != 100:
        _refuse(f"steps {_shown(value)} {rule}: the last step promotes, so it must be 100")
    return numbers


def bake_time(value):
    seconds = _integer(DEFAULT_BAKE_TIME if value is None else value)
    if seconds is None or seconds > MAX_BAKE_TIME:
        _refuse(f"bake_time {_shown(value)} must be whole seconds in 0-{MAX_BAKE_TIME}")
    return seconds


def flag(name, value, default=False):
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip(" ").lower() in _TRUE + _FALSE:
        return value.strip(" ").lower() in _TRUE
    _refuse(f"{name} {_shown(value)} must be true or false")
    return default


def ceilings(value):
    """The inventory's ceiling per direction, checked: a higher-is-better ceiling of 100 % would accept any value."""
    merged = dict(DEFAULT_CEILING_PCT, **(value or {}))
    for direction, pct in merged.items():
        number = _decimal(pct)
        top = 99.0 if direction == HIGHER_IS_BETTER else 10000.0
        if direction not in DEFAULT_CEILING_PCT or number is None or not 0 <= number <= top:
            _refuse(f"tolerance ceiling {direction}: {_shown(pct)} must be a number in 0-{top:g} for lower_is_better or higher_is_better")
        merged[direction] = number
    return merged


def tolerances(value, ceiling_pct=None):
    """{metric: {tolerance_pct}} for known metrics only, each within its direction's ceiling."""
    limits = ceilings(ceiling_pct)
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        _refuse(f"tolerances {_shown(value)} must be a mapping like {{clip_time_s: {{tolerance_pct: 15}}}}")
    clean = {}
    for metric, spec in value.items():
        if metric not in DEFAULT_TOLERANCES:
            _refuse(f"tolerances: {_shown(metric)} is not a benchmark metric ({', '.join(sorted(DEFAULT_TOLERANCES))})")
        extra = sorted(set(spec) - {"tolerance_pct"}) if isinstance(spec, dict) else []
        if not isinstance(spec, dict) or extra or "tolerance_pct" not in spec:
            told = f" ({', '.join(extra)} cannot be set from extra vars)" if extra else ""
            _refuse(f"tolerances: {metric} must be {{tolerance_pct: <number>}} only{told}")
        direction = DEFAULT_TOLERANCES[metric]["direction"]
        pct = _decimal(spec["tolerance_pct"])
        if pct is None or not 0 <= pct <= limits[direction]:
            _refuse(
                f"tolerances: {metric} tolerance_pct {_shown(spec['tolerance_pct'])} must be a number in 0-{limits[direction]:g} "
                f"(the inventory's ceiling for {direction})"
            )
        clean[metric] = {"tolerance_pct": pct}
    return clean


def normalize(raw, ceiling_pct=None):
    """Every rollout input from its raw extra var (None: not given), in the order an operator reads the refusals."""
    return {
        "version": version(raw.get("version")),
        "stages": stages(raw.get("stages")),
        "steps": steps(raw.get("steps")),
        "bake_time": bake_time(raw.get("bake_time")),
        "manual_promotion": flag("manual_promotion", raw.get("manual_promotion")),
        "tolerances": tolerances(raw.get("tolerances"), ceiling_pct),
    }
