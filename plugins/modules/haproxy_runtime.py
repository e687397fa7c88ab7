#!/usr/bin/python
# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: haproxy_runtime
short_description: Server weights, drains and state of one HAProxy backend through the runtime API socket
version_added: 0.2.0
description:
  - Talks to HAProxy's runtime API (the C(stats socket ... level admin)) directly, no shell and no socat.
  - Reads every server of O(backend) (weight, admin state, current and total sessions, health) with C(show stat).
  - Applies O(weights) and O(weights_if_healthy) as one batch of C(set weight) commands on one connection, raises
    before lowerings, reads the weights back and fails unless each one is the one set.
  - Refuses, before changing anything, a batch that would leave the backend with no healthy server in rotation
    (unless O(allow_empty_pool=true)), so that an abort or a rollback never empties the pool.
  - O(drain) sets the servers to weight 0 in the same batch, then waits up to O(drain_timeout) seconds until none of
    them has a session in flight.
  - Any socket error, unknown server or unexpected reply fails the task with one line naming the socket and the server.
options:
  weights:
    description: Weight (0-256) per server, applied whatever the server's health.
    type: dict
    default: {}
  weights_if_healthy:
    description:
      - Weight per server, applied only to servers HAProxy's checks see healthy (C(UP) or unchecked).
      - Puts stable servers back in rotation on an abort without routing to a container that is down.
    type: dict
    default: {}
  weights_unless_empty:
    description:
      - Weight per server, applied only if the pool still has a healthy server in rotation once every other weight is set;
        otherwise these servers keep their weights (listed in RV(kept_serving)).
      - An abort half-way through a promotion takes the promoted nodes out this way; if they are all that serves, they keep
        serving until the rollback has started the stable version beside them.
    type: dict
    default: {}
  held_servers_file:
    description:
      - File on the load-balancer host listing servers (one per line) whose weights this call leaves as they are.
      - A missing file holds nothing. A rollback lists there the servers it has switched, so that a repeated run keeps them.
    type: path
  drain:
    description: Servers to take to weight 0 and wait for until their in-flight sessions finish.
    type: list
    elements: str
    default: []
  drain_timeout:
    description: Seconds to wait for drained servers to have no current session.
    type: int
    default: 60
  drain_overdue:
    description:
      - What a drain does with sessions still open after O(drain_timeout) (a job longer than the longest expected one).
      - C(fail) fails the task naming the servers; C(proceed) returns them in RV(overdue_sessions), so that the caller
        replaces the instance anyway, as a deadline derived from the longest expected job means.
    type: str
    choices: [fail, proceed]
    default: fail
  wait_healthy:
    description:
      - Seconds to wait, before any change, for every server this call raises above weight 0 to be healthy.
      - A server still not healthy then fails the task with nothing changed.
    type: int
    default: 0
  allow_empty_pool:
    description: Allow a batch that leaves no healthy server in rotation (maintenance of the whole backend).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reads the state and reports the weights that would change; sends no C(set weight).
  diff_mode:
    support: full
    description: Weights of the changed servers before and after.
  idempotent:
    support: full
    description: Servers already at the requested weight are not touched; C(changed) is true only when a weight changed.
extends_documentation_fragment:
  - liveavatar.rollout.haproxy_socket
author:
  - liveavatar.rollout maintainers (@liveavatar)
"""

EXAMPLES = r"""
- name: Take the canary out and put every healthy stable server back, in one batch
  liveavatar.rollout.haproxy_runtime:
    weights: {gpu-node-1-canary: 0, gpu-node-2-canary: 0}
    weights_if_healthy: {gpu-node-1-stable: 100, gpu-node-2-stable: 100}
  delegate_to: "{{ groups['lb'] | first }}"

- name: Drain one server before its container is replaced
  liveavatar.rollout.haproxy_runtime:
    drain: [gpu-node-1-stable]
    drain_timeout: 60
  delegate_to: "{{ groups['lb'] | first }}"

- name: Read every server's state
  liveavatar.rollout.haproxy_runtime:
  register: lb_state
  delegate_to: "{{ groups['lb'] | first }}"
"""

RETURN = r"""
state:
  description: Every server of the backend after the call (before it, in check mode).
  returned: always
  type: dict
  sample: {"gpu-node-1-stable": {"weight": 100, "scur": 0, "stot": 1234, "status": "UP", "admin_state": "ready", "healthy": true}}
changes:
  description: Weights that changed (or would change, in check mode).
  returned: always
  type: dict
  sample: {"gpu-node-1-canary": {"before": 5, "after": 0}}
commands:
  description: The C(set weight) commands sent (or that would be sent), in order.
  returned: always
  type: list
  elements: str
  sample: ["set weight liveavatar/gpu-node-1-stable 100", "set weight liveavatar/gpu-node-1-canary 0"]
kept_serving:
  description: Servers of O(weights_unless_empty) left in rotation because the pool would otherwise be empty.
  returned: always
  type: list
  elements: str
  sample: []
held:
  description: Servers left as they are because O(held_servers_file) lists them.
  returned: always
  type: list
  elements: str
  sample: ["gpu-node-1-canary"]
drained_s:
  description: Seconds spent waiting for the drained servers' sessions to finish.
  returned: always
  type: float
  sample: 0.4
overdue_sessions:
  description: Sessions still open per drained server when the drain's deadline passed (O(drain_overdue=proceed)).
  returned: always
  type: dict
  sample: {"gpu-node-3-stable": 1}
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.liveavatar.rollout.plugins.module_utils import haproxy_runtime as hr
from ansible_collections.liveavatar.rollout.plugins.module_utils.haproxy_socket import apply_weights
from ansible_collections.liveavatar.rollout.plugins.module_utils.haproxy_socket import send as _send


def _read_held(path):
    if not path or not os.path.exists(path):
        return []
    try:
        with open(path, encoding="utf-8") as handle:
            return hr.parse_held_servers(handle.read())
    except OSError as exc:
        raise hr.RuntimeApiError(f"cannot read the held-servers file {path} ({exc.strerror})") from exc


def _wait(read, done, seconds):
    """Poll read() every 0.2 s until done(state) or the deadline; return the last state and the time spent."""
    started = time.monotonic()
    state = read()
    while not done(state) and time.monotonic() - started < seconds:
        time.sleep(0.2)
        state = read()
    return state, round(time.monotonic() - started, 2)


def run(params, check_mode, send=_send):
    """The module's work, raising RuntimeApiError; returns the result dict."""
    backend = hr.check_name("backend", params["backend"])
    path, timeout = params["socket"], params["timeout"]

    def read():
        return hr.parse_show_stat(send(path, "show stat", timeout), backend)

    held = _read_held(params["held_servers_file"])
    state = read()
    weights = dict(params["weights"])
    weights.update(dict.fromkeys(params["drain"], 0))

    def plan(now):
        return hr.plan_with_fallback(now, weights, params["weights_if_healthy"], params["weights_unless_empty"], held)

    changes, kept = plan(state)
    raised = [server for server, change in changes.items() if change["after"] > 0]
    if raised and params["wait_healthy"] > 0:
        state, _waited = _wait(read, lambda now: all(now[server]["healthy"] for server in raised), params["wait_healthy"])
        sick = {server: state[server]["status"] for server in raised if not state[server]["healthy"]}
        if sick:
            left = ", ".join(f"{server} ({status})" for server, status in sorted(sick.items()))
            raise hr.RuntimeApiError(f"servers not healthy after {params['wait_healthy']} s, weights left as they were: {left}")
        changes, kept = plan(state)
    if not params["allow_empty_pool"]:
        hr.check_pool_kept(backend, state, changes)
    commands = hr.ordered_commands(backend, changes)
    result = {"changed": bool(changes), "changes": changes, "commands": commands, "held": held, "kept_serving": kept, "state": state, "drained_s": 0.0}
    result["overdue_sessions"] = {}
    if check_mode:
        return result
    state = apply_weights(path, timeout, backend, changes, send) or state
    if params["drain"]:
        state, result["drained_s"] = _wait(read, lambda now: not hr.busy_servers(now, params["drain"]), params["drain_timeout"])
        busy = hr.busy_servers(state, params["drain"])
        result["overdue_sessions"] = busy
        if busy and params["drain_overdue"] == "fail":
            left = ", ".join(f"{server} ({count})" for server, count in sorted(busy.items()))
            raise hr.RuntimeApiError(f"servers still have sessions after {params['drain_timeout']} s of draining: {left}")
    result["state"] = state
    return result


def main():
    module = AnsibleModule(
        argument_spec={
            "socket": {"type": "path", "default": "/run/haproxy/admin.sock"},
            "backend": {"type": "str", "default": "liveavatar"},
            "weights": {"type": "dict", "default": {}},
            "weights_if_healthy": {"type": "dict", "default": {}},
            "weights_unless_empty": {"type": "dict", "default": {}},
            "held_servers_file": {"type": "path"},
            "drain": {"type": "list", "elements": "str", "default": []},
            "drain_timeout": {"type": "int", "default": 60},
            "drain_overdue": {"type": "str", "choices": ["fail", "proceed"], "default": "fail"},
            "wait_healthy": {"type": "int", "default": 0},
            "allow_empty_pool": {"type": "bool", "default": False},
            "timeout": {"type": "float", "default": 5.0},
        },
        supports_check_mode=True,
    )
    try:
        result = run(module.params, module.check_mode)
    except hr.RuntimeApiError as exc:
        module.fail_json(msg=f"haproxy_runtime: {module.params['socket']} backend {module.params['backend']}: {exc}")
    if module._diff:
        result["diff"] = hr.weights_diff(result["changes"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
