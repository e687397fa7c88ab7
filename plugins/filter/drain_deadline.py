# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: drain_deadline
short_description: How long a server leaving service keeps its in-flight video jobs
version_added: 0.3.0
description:
  - The longest expected job (its clip count times the seconds one clip takes) plus a margin, in whole seconds.
positional: _input
options:
  _input:
    description: The most clips one job generates.
    type: int
    required: true
  clip_seconds:
    description: Seconds one clip takes on this fleet's GPUs.
    type: float
    required: true
  margin_pct:
    description: Margin over the longest expected job, in percent.
    type: float
    default: 20
"""

EXAMPLES = r"""
- name: Drain a server for at most the longest expected job
  liveavatar.rollout.haproxy_runtime:
    drain: [gpu-node-3-stable]
    drain_timeout: "{{ 20 | liveavatar.rollout.drain_deadline(12) }}"
    drain_overdue: proceed
"""

RETURN = r"""
_value:
  description: Seconds, rounded up.
  type: int
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.liveavatar.rollout.plugins.module_utils.slots import SlotError, drain_deadline_s


def _drain_deadline(max_clips, clip_seconds, margin_pct=20):
    try:
        return drain_deadline_s(int(max_clips), float(clip_seconds), float(margin_pct))
    except (SlotError, TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"drain_deadline: {exc}") from None


class FilterModule:
    """The drain deadline of a video-serving slot."""

    def filters(self):
        return {"drain_deadline": _drain_deadline}
