# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Docker's daemon.json as several roles share it: parse, merge a role's keys over the others', render.

Pure functions: the module reads and writes the file; every decision about its content is here.
"""

from __future__ import annotations

import json


class DaemonConfigError(ValueError):
    """The file holds something other than one JSON object."""


def parse(text, path):
    """The JSON object in text (an empty or absent file is {}); DaemonConfigError naming path otherwise."""
    if text is None or not text.strip():
        return {}
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise DaemonConfigError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise DaemonConfigError(f"{path} holds a JSON {type(config).__name__}, not an object")
    return config


def merge(current, settings, remove_matching=None):
    """current with settings merged over it (objects key by key, anything else replaced) and each key of
    remove_matching removed where it holds exactly that value (a key this role set once and no longer wants)."""
    merged = _deep_merge(current, settings)
    for key, value in (remove_matching or {}).items():
        if key in merged and merged[key] == value and key not in settings:
            del merged[key]
    return merged


def _deep_merge(base, over):
    result = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = value
    return result


def render(config):
    """The file's text: sorted keys, two-space indent, a final newline (diffs stay readable)."""
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def validate_supported(help_text):
    """Whether `dockerd --help` offers --validate (Docker 23 and later)."""
    return "--validate" in (help_text or "")
