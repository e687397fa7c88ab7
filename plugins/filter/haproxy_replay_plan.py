# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: haproxy_replay_plan
short_description: A recorded HAProxy request log as a bounded, paced replay for the lab's load
version_added: 0.3.0
description:
  - Reads HAProxy C(option httplog) lines (syslog or ring prefixes are ignored) and keeps each GET request's path and
    its offset from the first one, so a thin step can be given recorded traffic. Writes (POST and others) are never
    replayed.
  - Fails when the log holds no GET request or a bound is not positive.
positional: _input
options:
  _input:
    description: The log's text.
    type: str
    required: true
  backend:
    description: Only this backend's requests (all when omitted).
    type: str
  max_requests:
    description: The most requests kept.
    type: int
    default: 1000
  max_seconds:
    description: The longest replayed span, after O(speed).
    type: float
    default: 600
  speed:
    description: Replay this many times faster than recorded.
    type: float
    default: 1.0
"""

EXAMPLES = r"""
- name: Turn a recorded log into the lab load's replay plan
  ansible.builtin.copy:
    content: "{{ lookup('ansible.builtin.file', 'recorded-haproxy.log') | liveavatar.rollout.haproxy_replay_plan(speed=2) | to_json }}"
    dest: /tmp/replay.json
    mode: "0644"
"""

RETURN = r"""
_value:
  description: C(requests) ([offset_s, path] in order), C(span_s) and C(skipped) (request lines that were not GET).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.liveavatar.rollout.plugins.module_utils.haproxy_log import replay_plan


def haproxy_replay_plan(text, backend=None, max_requests=1000, max_seconds=600.0, speed=1.0):
    try:
        return replay_plan(text, backend, max_requests, max_seconds, speed)
    except ValueError as exc:
        raise AnsibleFilterError(f"haproxy_replay_plan: {exc}") from None


class FilterModule:
    """A recorded request log as a replay plan."""

    def filters(self):
        return {"haproxy_replay_plan": haproxy_replay_plan}
