# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: log_line_patterns
short_description: Live Avatar's log line patterns for a log shipper (no named groups)
version_added: 0.2.0
description:
  - Returns the patterns that split a Live Avatar log line (C([LEVEL] date time file:line - message)) into level, date, time,
    file, line and message, and find gpu, size and error_type in the message. They are the patterns log_triage uses, with
    named groups made positional so that Filebeat's JavaScript processor can run them.
positional: _input
options:
  _input:
    description: Error patterns by type (oom, nccl, decode) to use instead of the defaults; empty for the defaults.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Patterns for the Filebeat template
  ansible.builtin.set_fact:
    log_shipper_patterns: "{{ {} | liveavatar.rollout.log_line_patterns }}"
"""

RETURN = r"""
_value:
  description: line (pattern), line_fields (group order), gpu, size, errors (type to pattern) and error_levels.
  type: dict
"""

from ansible_collections.liveavatar.rollout.plugins.module_utils.logs import shipper_patterns


def log_line_patterns(error_patterns):
    return shipper_patterns(error_patterns or None)


class FilterModule:
    """Filters for log shipping."""

    def filters(self):
        return {"log_line_patterns": log_line_patterns}
