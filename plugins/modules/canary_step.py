#!/usr/bin/python
# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: canary_step
short_description: One traffic step of a canary release, watched request by request and acted on inside the call
version_added: 0.3.0
description:
  - Sets the step's weights on one HAProxy backend through the runtime API, watches every request the backend logs
    into a ring (C(log ring@<ring>), streamed with C(show events <ring> -w -n)) and judges the candidate's servers
    against the stable ones with an anytime-valid sequential test (latency, p95, p99 and errors; false alarms held at
    O(alpha) however often it looks).
  - Looks every O(interval_s) seconds. A fail ends the step at once and, in the same call, applies O(abort_weights)
    and O(abort_weights_if_healthy) as one batch, so no Ansible task stands between the verdict and the weight change.
  - A pass needs O(min_bake_s) and the judge's minimum evidence. Too few requests by O(max_bake_s) is inconclusive,
    never a pass; O(on_inconclusive) says what follows.
  - Requests a server answered within O(warmup_s) of joining the pool at this step are left out (a cold instance).
  - The stream is opened before the weights change, so every request of the step is seen, and no older one.
  - The module needs C(log ring@<ring>) in the LB's configuration (the haproxy_lb role's C(haproxy_lb_request_ring)).
options:
  ring:
    description: HAProxy ring the backend's request log is written to.
    type: str
    default: liveavatar_requests
  weights:
    description: Weight per server for the step (servers not named keep their weights).
    type: dict
    required: true
  candidate_servers:
    description: The servers that run the candidate; every other healthy server in rotation is the control.
    type: list
    elements: str
    required: true
  abort_weights:
    description: Weights applied on a fail (and on an inconclusive step under O(on_inconclusive=abort)), e.g. candidates to 0.
    type: dict
    default: {}
  abort_weights_if_healthy:
    description: Weights applied in the same batch only to servers HAProxy sees healthy (stable back at its serving weight).
    type: dict
    default: {}
  min_bake_s:
    description: Seconds the step lasts at least before it may pass.
    type: float
    default: 20
  max_bake_s:
    description: Seconds after which a step without enough evidence is inconclusive.
    type: float
    default: 120
  extend_to_s:
    description: With O(on_inconclusive=extend), the later deadline the step is extended to once.
    type: float
  on_inconclusive:
    description:
      - C(abort) applies the abort batch; C(pause) leaves the weights and returns (a person decides); C(extend) watches
        until O(extend_to_s), then aborts if still inconclusive.
      - An inconclusive step never promotes.
    type: str
    choices: [abort, pause, extend]
    default: pause
  interval_s:
    description: Seconds between two looks at the evidence.
    type: float
    default: 2
  warmup_s:
    description: Seconds after a server joins the pool during which its requests are not judged.
    type: float
    default: 5
  alpha:
    description: False-alarm probability over the whole step, all tests together.
    type: float
    default: 0.01
  judge_warmup:
    description: Requests (both tracks) that set the judge's latency scale before any is tested.
    type: int
    default: 40
  min_requests:
    description: Requests per side the judge needs before it may pass.
    type: int
    default: 200
  tolerance_pct:
    description: How much slower the candidate may be without failing.
    type: float
    default: 0
attributes:
  check_mode:
    support: full
    description: Reads the backend and returns the plan (weights before and after, the candidate's share); watches nothing.
  diff_mode:
    support: full
    description: The step's weights before and after.
notes:
  - The log's accept dates are read on the LB host's clock, where the module runs.
  - A failure after the step's weights were set (the stream lost) fails the task and leaves them; the caller's abort
    path takes the candidate out.
extends_documentation_fragment:
  - liveavatar.rollout.haproxy_socket
author:
  - liveavatar.rollout maintainers (@liveavatar)
"""

EXAMPLES = r"""
- name: Step to 5 %, watched and acted on in one call
  liveavatar.rollout.canary_step:
    weights: {gpu-node-3-canary: 5, gpu-node-3-stable: 95}
    candidate_servers: [gpu-node-3-canary]
    abort_weights: {gpu-node-3-canary: 0}
    abort_weights_if_healthy: {gpu-node-3-stable: 100}
    min_bake_s: 20
    max_bake_s: 120
    on_inconclusive: pause
  register: step
"""

RETURN = r"""
verdict:
  description: pass, fail or inconclusive.
  returned: success
  type: str
  sample: fail
passed:
  description: Whether the step may go on to the next one.
  returned: success
  type: bool
reason:
  description: One line naming what decided it.
  returned: success
  type: str
  sample: canary worse than stable on latency (e-value above 4/alpha)
evidence:
  description: Requests per server, each track's latency quantiles, lines left out and why, the judge's e-values.
  returned: success
  type: dict
looks:
  description: Every look (seconds into the step, verdict, requests per side so far, each track's median since the last look).
  returned: success
  type: list
  elements: dict
series:
  description: Each track's median latency (s) per look that saw its requests, for the report's plot.
  returned: success
  type: dict
  sample: {candidate: [0.064, 0.065], stable: [0.022, 0.021]}
changes:
  description: The step's weight changes, {server {before, after}}.
  returned: always
  type: dict
abort_changes:
  description: The abort batch's weight changes (empty when the step passed or paused).
  returned: success
  type: dict
timings:
  description: >-
    Wall times of the step's start, the verdict and the abort batch, and the reaction (verdict to weights set, and the
    candidate's first judged request to weights set).
  returned: success
  type: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.liveavatar.rollout.plugins.module_utils import canary_step as cs
from ansible_collections.liveavatar.rollout.plugins.module_utils import haproxy_runtime as hr
from ansible_collections.liveavatar.rollout.plugins.module_utils.haproxy_socket import EventStream, apply_weights, send
from ansible_collections.liveavatar.rollout.plugins.module_utils.sequential import SequentialError, SequentialJudge


def run(params, check_mode, send_line=send, stream=EventStream, clock=time.time):
    """The module's work, raising RuntimeApiError, StepError or SequentialError; returns the result dict."""
    backend, path, timeout = hr.check_name("backend", params["backend"]), params["socket"], params["timeout"]
    policy = cs.check_policy(params["on_inconclusive"])
    cs.check_bake(params["min_bake_s"], params["max_bake_s"], params["warmup_s"], params["interval_s"])
    if policy == "extend" and not (params["extend_to_s"] or 0) > params["max_bake_s"]:
        raise cs.StepError(f"on_inconclusive=extend needs extend_to_s after max_bake_s ({params['max_bake_s']} s)")
    state = hr.parse_show_stat(send_line(path, "show stat", timeout), backend)
    changes = hr.plan_weights(state, params["weights"])
    hr.check_pool_kept(backend, state, changes)
    # The abort batch is checked now, so that a fail never meets an unknown server.
    hr.plan_weights(state, params["abort_weights"], params["abort_weights_if_healthy"])
    stable, joined, after = cs.step_plan(state, params["weights"], params["candidate_servers"])
    pi = cs.canary_share({server: weight for server, weight in after.items() if state[server]["healthy"]}, set(params["candidate_servers"]))
    cs.check_share(pi)
    judge = SequentialJudge(alpha=params["alpha"], warmup=params["judge_warmup"], min_requests=params["min_requests"], tolerance_pct=params["tolerance_pct"])
    result = {"changed": bool(changes), "changes": changes, "stable_servers": stable, "joined_servers": joined, "pi": round(pi, 4)}
    if check_mode:
        return result
    events = stream(path, params["ring"], timeout, clock=clock)
    try:
        apply_weights(path, timeout, backend, changes, send_line)
        started = clock()
        watch = cs.StepWatch(
            backend, params["candidate_servers"], stable, started, pi, params["min_bake_s"], params["max_bake_s"], params["warmup_s"], joined, judge
        )
        looks, extended, look_at = [], False, started
        while True:
            look_at += params["interval_s"]
            for line in events.read_until(look_at):
                watch.add_line(line)
            verdict = watch.decide(clock())
            looks.append({"at_s": verdict["elapsed_s"], "verdict": verdict["verdict"], "counts": verdict["counts"], "p50_s": watch.look_medians()})
            if verdict["verdict"] == "inconclusive" and policy == "extend" and not extended:
                watch.extend(params["extend_to_s"])
                extended = True
                continue
            if verdict["verdict"] != "continue":
                break
    finally:
        events.close()
    decided = clock()
    abort_changes, acted = {}, None
    if verdict["verdict"] == "fail" or (verdict["verdict"] == "inconclusive" and policy in ("abort", "extend")):
        now = hr.parse_show_stat(send_line(path, "show stat", timeout), backend)
        abort_changes = hr.plan_weights(now, params["abort_weights"], params["abort_weights_if_healthy"])
        hr.check_pool_kept(backend, now, abort_changes)
        apply_weights(path, timeout, backend, abort_changes, send_line)
        acted = clock()
    evidence = watch.evidence()
    first = evidence["first_candidate_at"]
    result.update(
        changed=bool(changes or abort_changes),
        verdict=verdict["verdict"],
        passed=verdict["verdict"] == "pass",
        reason=verdict["reason"] + (" (extended once)" if extended else ""),
        evidence=dict(evidence, judge={k: verdict[k] for k in ("log10_e_values", "log10_threshold", "counts")}),
        looks=looks,
        series={track: [look["p50_s"][track] for look in looks if look["p50_s"][track] is not None] for track in ("candidate", "stable")},
        abort_changes=abort_changes,
        timings={
            "started_at": started,
            "decided_at": decided,
            "acted_at": acted,
            "verdict_to_weights_s": round(acted - decided, 3) if acted else None,
            "first_candidate_request_to_weights_s": round(acted - first, 3) if acted and first else None,
        },
    )
    return result


def main():
    module = AnsibleModule(
        argument_spec={
            "socket": {"type": "path", "default": "/run/haproxy/admin.sock"},
            "backend": {"type": "str", "default": "liveavatar"},
            "ring": {"type": "str", "default": "liveavatar_requests"},
            "weights": {"type": "dict", "required": True},
            "candidate_servers": {"type": "list", "elements": "str", "required": True},
            "abort_weights": {"type": "dict", "default": {}},
            "abort_weights_if_healthy": {"type": "dict", "default": {}},
            "min_bake_s": {"type": "float", "default": 20},
            "max_bake_s": {"type": "float", "default": 120},
            "extend_to_s": {"type": "float"},
            "on_inconclusive": {"type": "str", "choices": list(cs.INCONCLUSIVE_POLICIES), "default": "pause"},
            "interval_s": {"type": "float", "default": 2},
            "warmup_s": {"type": "float", "default": 5},
            "alpha": {"type": "float", "default": 0.01},
            "judge_warmup": {"type": "int", "default": 40},
            "min_requests": {"type": "int", "default": 200},
            "tolerance_pct": {"type": "float", "default": 0},
            "timeout": {"type": "float", "default": 5.0},
        },
        supports_check_mode=True,
    )
    try:
        result = run(module.params, module.check_mode)
    except (hr.RuntimeApiError, cs.StepError, SequentialError) as exc:
        module.fail_json(msg=f"canary_step: {module.params['socket']} backend {module.params['backend']}: {exc}")
    if module._diff:
        result["diff"] = hr.weights_diff(result["changes"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
