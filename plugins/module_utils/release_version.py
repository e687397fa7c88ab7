# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one rule for a release version: vMAJOR.MINOR[.PATCH], ASCII digits, no leading zeros, at most 32 characters."""

from __future__ import annotations

import re

MAX_LENGTH = 32
# fullmatch: '$' in a search also matches before a final newline ("v1.1\n"); [0-9], not \d (which takes any script's digits).
_VERSION = re.compile(r"v(?:0|[1-9][0-9]{0,8})\.(?:0|[1-9][0-9]{0,8})(?:\.(?:0|[1-9][0-9]{0,8}))?")


def is_release_version(value):
    """True for 'v1.1' or 'v2.10.3'; False for anything else, including non-strings, 'v01.1' and 'v1.1\\n'."""
    return isinstance(value, str) and len(value) <= MAX_LENGTH and _VERSION.fullmatch(value) is not None
