# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: release_version
short_description: Whether a value is a release version (vMAJOR.MINOR[.PATCH])
version_added: 0.2.0
description:
  - The collection's one version rule, the same as the modules apply. ASCII digits, no leading zeros, at most 32 characters,
    matched whole (a final newline fails it).
positional: _input
options:
  _input:
    description: The value to test.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Refuse a malformed version
  ansible.builtin.assert:
    that: version is liveavatar.rollout.release_version
    fail_msg: "version '{{ version }}' is not vMAJOR.MINOR[.PATCH]"
"""

RETURN = r"""
_value:
  description: True when the value is a release version.
  type: bool
"""

from ansible_collections.liveavatar.rollout.plugins.module_utils.release_version import is_release_version


class TestModule:
    """The release-version test."""

    def tests(self):
        return {"release_version": is_release_version}
