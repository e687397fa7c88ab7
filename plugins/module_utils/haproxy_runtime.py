# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HAProxy runtime API: commands, replies and weight plans, as plain data (no socket, no Ansible).

The haproxy_runtime module opens the UNIX socket and sends the lines built here; everything here is pure so that
every command and reply is table-tested.
"""

from __future__ import annotations

import re

MAX_WEIGHT = 256
# Server and backend names go into a command line: one token, nothing HAProxy would split on (';', space, newline).
_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,127}")
_STAT_COLUMNS = ("pxname", "svname", "scur", "stot", "status", "weight")
_AGGREGATE_ROWS = ("FRONTEND", "BACKEND")


class RuntimeApiError(Exception):
    """A runtime-API exchange that cannot be trusted: the message names what was attempted and why."""


def check_name(kind, name):
    """Return name when it is a single safe token for a command line; raise otherwise."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise RuntimeApiError(f"{kind} name {name!r} is not a plain HAProxy name (letters, digits, '_.:-', at most 127)")
    return name


def check_weight(server, weight):
    """Return weight as an int in 0..256; raise naming the server otherwise (bool is not a weight)."""
    if isinstance(weight, bool) or not isinstance(weight, (int, str)) or not re.fullmatch(r"[0-9]{1,3}", str(weight)):
        raise RuntimeApiError(f"weight {weight!r} for server {server} is not an integer 0-{MAX_WEIGHT}")
    value = int(weight)
    if value > MAX_WEIGHT:
        raise RuntimeApiError(f"weight {value} for server {server} is above HAProxy's maximum {MAX_WEIGHT}")
    return value


def is_healthy(status):
    """True when HAProxy would send new requests to a server with a weight (UP, UP going down, or unchecked)."""
    return status.startswith("UP") or status == "no check"


def admin_state(status):
    """The operator-set state a show-stat status implies: maint, drain or ready."""
    if status.startswith("MAINT"):
        return "maint"
    if status.startswith("DRAIN"):
        return "drain"
    return "ready"


def parse_show_stat(text, backend):
    """Servers of backend from `show stat` CSV: {name: {weight, scur, stot, status, admin_state, healthy}}.

    Raises RuntimeApiError when the reply is not the CSV HAProxy writes (an error line, no header, a short row,
    a counter that is not a number) or when the backend does not exist.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("# "):
        first = lines[0][:120] if lines else "an empty reply"
        raise RuntimeApiError(f"'show stat' answered {first!r}, not HAProxy's CSV")
    header = lines[0][2:].split(",")
    missing = [column for column in _STAT_COLUMNS if column not in header]
    if missing:
        raise RuntimeApiError(f"'show stat' CSV has no column {', '.join(missing)}")
    index = {column: header.index(column) for column in _STAT_COLUMNS}
    servers = {}
    backend_seen = False
    for line in lines[1:]:
        fields = line.split(",")
        if len(fields) <= max(index.values()):
            raise RuntimeApiError(f"'show stat' row {line[:120]!r} has {len(fields)} fields, fewer than its header")
        if fields[index["pxname"]] != backend:
            continue
        backend_seen = True
        name = fields[index["svname"]]
        if name in _AGGREGATE_ROWS:
            continue
        try:
            counters = {column: int(fields[index[column]]) for column in ("scur", "stot", "weight")}
        except ValueError as exc:
            raise RuntimeApiError(f"'show stat' row of server {name} has a counter that is not a number ({exc})") from exc
        status = fields[index["status"]]
        servers[name] = dict(counters, status=status, admin_state=admin_state(status), healthy=is_healthy(status))
    if not backend_seen:
        raise RuntimeApiError(f"backend {backend} does not exist in HAProxy")
    return servers


def set_weight_command(backend, server, weight):
    """One `set weight` command for a checked backend, server and weight."""
    return f"set weight {check_name('backend', backend)}/{check_name('server', server)} {check_weight(server, weight)}"


def check_set_reply(reply, commands):
    """Raise unless a batch of `set weight` commands answered nothing but blank lines (HAProxy's success)."""
    errors = [line.strip() for line in reply.splitlines() if line.strip()]
    if errors:
        raise RuntimeApiError(f"HAProxy refused part of the batch {'; '.join(commands)!r}: {' | '.join(errors)[:300]}")


def plan_weights(current, weights=None, weights_if_healthy=None, held=()):
    """Weight changes as {server: {"before": w, "after": w}}, only where a weight really differs.

    weights apply unconditionally; weights_if_healthy only to servers HAProxy sees healthy (a stable container
    that is down is not put back in rotation); held servers are never touched. Unknown servers raise.
    """
    desired = {}
    for table, only_healthy in ((weights or {}, False), (weights_if_healthy or {}, True)):
        for server, weight in table.items():
            check_name("server", server)
            value = check_weight(server, weight)
            if server not in current:
                known = ", ".join(sorted(current)) or "none"
                raise RuntimeApiError(f"server {server} does not exist in the backend (servers: {known})")
            if server in held or (only_healthy and not current[server]["healthy"]):
                continue
            desired[server] = value
    return {server: {"before": current[server]["weight"], "after": value} for server, value in desired.items() if current[server]["weight"] != value}


def plan_with_fallback(current, weights=None, weights_if_healthy=None, weights_unless_empty=None, held=()):
    """plan_weights, plus weights_unless_empty applied only while the pool keeps a healthy server in rotation.

    Returns (changes, kept): kept lists the servers of weights_unless_empty left as they are to keep the pool serving.
    """
    changes = plan_weights(current, weights, weights_if_healthy, held)
    extra = plan_weights(current, weights_unless_empty, held=held)
    merged = dict(changes, **{server: change for server, change in extra.items() if server not in changes})
    if not extra or serving_after(current, merged):
        return merged, []
    return changes, sorted(extra)


def ordered_commands(backend, changes):
    """Raises before lowerings, so that at no point between two commands is the pool emptier than at either end."""
    raising = sorted(server for server, change in changes.items() if change["after"] > change["before"])
    lowering = sorted(server for server, change in changes.items() if change["after"] < change["before"])
    return [set_weight_command(backend, server, changes[server]["after"]) for server in raising + lowering]


def serving_after(current, changes):
    """Servers that would be healthy with a weight above 0 once changes are applied."""
    return sorted(server for server, state in current.items() if state["healthy"] and changes.get(server, {"after": state["weight"]})["after"] > 0)


def check_pool_kept(backend, current, changes):
    """Raise when changes would leave backend with no healthy server in rotation (the pool is never emptied)."""
    if changes and not serving_after(current, changes):
        plan = ", ".join(f"{server} {change['before']}->{change['after']}" for server, change in sorted(changes.items()))
        raise RuntimeApiError(f"refusing weights that leave backend {backend} with no healthy server in rotation ({plan})")


def weights_diff(changes):
    """Ansible's diff of a weight plan: each changed server's weight before and after."""
    return {
        "before": {server: change["before"] for server, change in changes.items()},
        "after": {server: change["after"] for server, change in changes.items()},
    }


def verify_applied(backend, after, changes):
    """Raise naming the first server whose weight read back is not the one set."""
    for server, change in sorted(changes.items()):
        seen = after.get(server, {}).get("weight")
        if seen != change["after"]:
            raise RuntimeApiError(f"server {backend}/{server} reads weight {seen} after it was set to {change['after']}")


def busy_servers(state, servers):
    """{server: current sessions} for servers that still have sessions in flight."""
    return {server: state[server]["scur"] for server in servers if state[server]["scur"] > 0}


def parse_held_servers(text):
    """Server names listed one per line (a rollback's note); blank lines and '#' comments ignored."""
    names = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [check_name("held server", name) for name in names]


def traffic_share(before, after, suffix="-canary"):
    """Requests each server received between two states, and the share (percent) of servers ending in suffix."""
    received = {server: after[server]["stot"] - before.get(server, {"stot": 0})["stot"] for server in after}
    total = sum(received.values())
    matched = sum(count for server, count in received.items() if server.endswith(suffix))
    return {"requests": total, "per_server": received, "share_pct": round(100.0 * matched / total, 2) if total else None}
