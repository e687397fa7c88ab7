# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault injection for playbooks/chaos.yml (issue 17): which faults exist, who may get one, and how each is put in and
taken out again. Pure: the playbook runs the commands these plans return, always the removal (block/always).

Network faults use what the kernel has: netem where its module loads (delay and loss in one qdisc); otherwise loss
with iptables' statistic match and a rate limit with tc's tbf. The plan says which was used. Every iptables rule
carries a comment naming the fault, so the removal deletes exactly what was added and nothing an operator set.
"""

from __future__ import annotations

import re

CHAIN_COMMENT = "liveavatar-chaos"
# The faults chaos.yml injects, each with the group whose first host takes it when no target is named.
FAULTS = {
    "network_loss": {
        "group": "gpu_multi",
        "needs_stable": True,
        "what": "a share of the packets between the multi-GPU workers (or from the named peers) dropped",
    },
    "network_latency": {"group": "gpu_multi", "needs_stable": True, "what": "the link between the multi-GPU workers delayed (netem) or throttled (tbf)"},
    "dockerd_restart": {"group": "gpu_serving", "what": "the node's Docker engine restarted while its instance serves (live-restore)"},
    "lb_reload": {"group": "lb", "what": "HAProxy reloaded (systemctl reload) while the LB holds a weight split"},
    "service_sigkill": {
        "group": "gpu_canary",
        "needs_stable": True,
        "what": "a long generation job's main process killed (SIGKILL) mid-job; its container restarts by policy and resumes",
    },
}
_HOST_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}\Z")
_IFACE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,14}\Z")


class ChaosError(ValueError):
    """A fault request that must not run; the message is one line and says what to do."""


def check_request(fault, target, inventory_hosts, lab_hosts, confirm=None, lock_holder=None, groups=None, stable=None):
    """Refuse, before anything is injected: an unknown fault, an unknown host, a host outside the lab without
    `-e chaos_confirm=<host>`, or any fault while a rollout or rollback holds the lock. No target: the first host of
    the fault's group in groups (the inventory's groups). A network fault measures the collective with the ledger's
    stable image, so it needs one; so does a killed job."""
    if fault not in FAULTS:
        raise ChaosError(f"chaos: unknown fault {str(fault)[:40]!r}; known: {', '.join(sorted(FAULTS))}; nothing was injected")
    if target is None:
        members = (groups or {}).get(FAULTS[fault]["group"]) or []
        if not members:
            raise ChaosError(
                f"chaos: no target given and the inventory's group {FAULTS[fault]['group']} is empty; run again with -e target=<host>; nothing was injected"
            )
        target = members[0]
    elif not isinstance(target, str) or not _HOST_RE.match(target) or target not in inventory_hosts:
        raise ChaosError(f"chaos: target {str(target)[:64]!r} is not a host of the inventory; nothing was injected")
    if target not in lab_hosts and confirm != target:
        raise ChaosError(f"chaos: {target} is not a lab host; to inject {fault} there, run again with -e chaos_confirm={target}; nothing was injected")
    if lock_holder:
        raise ChaosError(
            f"chaos: the rollout lock is held by run {lock_holder.get('run_id', '?')} since {lock_holder.get('since', '?')}; "
            "a fault is injected between releases: wait for that run to end (or run rollback.yml); nothing was injected"
        )
    if FAULTS[fault].get("needs_stable") and not (stable or {}).get("digest"):
        raise ChaosError(f"chaos: {fault} runs the stable image and the ledger has no stable version; run bootstrap.yml first; nothing was injected")
    return {"fault": fault, "target": target, "group": FAULTS[fault]["group"], "what": FAULTS[fault]["what"], "stable": stable}


def netem_available(modprobe_rc, tc_rc=None):
    """netem is there when `modprobe -n sch_netem` succeeded (and, if tried, `tc qdisc add ... netem` too)."""
    return modprobe_rc == 0 and tc_rc in (None, 0)


def qdisc_del(interface):
    """Removes the interface's root qdisc (netem or tbf), which takes its fault off with it."""
    return ["tc", "qdisc", "del", "dev", interface, "root"]


def check_interface(interface):
    if not isinstance(interface, str) or not _IFACE_RE.match(interface):
        raise ChaosError(f"chaos: interface {str(interface)[:20]!r} is not an interface name")


def network_plan(kind, interface, peers=(), loss_pct=5.0, delay_ms=100, rate_kbit=1024, netem=False, mtu=1500):
    """The inject and remove commands (argv lists) of a network fault, and the method used.

    loss: netem's loss on the interface, or an iptables INPUT DROP per peer with the statistic match.
    latency: netem's delay, or tc tbf throttling (no netem: a rate limit stands in for latency; the plan says so).
    """
    check_interface(interface)
    bad = [p for p in peers if not re.fullmatch(r"[0-9A-Fa-f.:/]{2,49}", str(p))]
    if bad:
        raise ChaosError(f"chaos: peers {', '.join(map(str, bad))} are not addresses")
    if kind == "loss":
        if not 0 < float(loss_pct) < 100:
            raise ChaosError(f"chaos: loss_pct {loss_pct!r} must be above 0 and under 100")
        if netem:
            add = [["tc", "qdisc", "add", "dev", interface, "root", "netem", "loss", f"{float(loss_pct):g}%"]]
            return {"method": "netem", "inject": add, "remove": [qdisc_del(interface)]}
        if not peers:
            raise ChaosError("chaos: iptables loss needs the peers whose packets to drop")
        probability = f"{float(loss_pct) / 100:.4f}"
        rule = ["-m", "statistic", "--mode", "random", "--probability", probability, "-m", "comment", "--comment", CHAIN_COMMENT, "-j", "DROP"]
        inject = [["iptables", "-I", "INPUT", "-s", str(peer), *rule] for peer in peers]
        remove = [["iptables", "-D", "INPUT", "-s", str(peer), *rule] for peer in peers]
        return {"method": "iptables statistic", "inject": inject, "remove": remove}
    if kind == "latency":
        if netem:
            if not 0 < int(delay_ms) <= 10000:
                raise ChaosError(f"chaos: delay_ms {delay_ms!r} must be in 1-10000")
            add = [["tc", "qdisc", "add", "dev", interface, "root", "netem", "delay", f"{int(delay_ms)}ms"]]
            return {"method": "netem", "inject": add, "remove": [qdisc_del(interface)]}
        if not 8 <= int(rate_kbit) <= 10_000_000:
            raise ChaosError(f"chaos: rate_kbit {rate_kbit!r} must be in 8-10000000")
        # tbf drops every packet larger than its bucket: the bucket holds at least two of the link's largest frames.
        burst = max(2 * int(mtu), int(rate_kbit) * 1000 // 8 // 100)
        add = [["tc", "qdisc", "add", "dev", interface, "root", "tbf", "rate", f"{int(rate_kbit)}kbit", "burst", str(burst), "latency", "400ms"]]
        remove = [qdisc_del(interface)]
        return {"method": "tc tbf (no netem in this kernel: a rate limit, not a delay)", "inject": add, "remove": remove}
    raise ChaosError(f"chaos: network fault kind {kind!r} is not loss or latency")


def leftover_rules(iptables_save):
    """Rules a chaos run left behind (by their comment), so the next run can refuse or clean up."""
    return [line for line in (iptables_save or "").splitlines() if line.startswith("-A ") and f"--comment {CHAIN_COMMENT}" in line.replace('"', "")]


def removal_commands(iptables_save, tc_root, interface):
    """What takes every chaos fault off a host, read from its state (not from the plan that added it), so a removal
    after a controller crash is complete: each rule carrying the chaos comment, and a tbf/netem root qdisc.

    tc_root: `tc qdisc show dev <interface> root`."""
    commands = []
    for line in leftover_rules(iptables_save):
        # `-A CHAIN spec...` from iptables-save becomes `iptables -D CHAIN spec...` (the comment quoted or not).
        spec = line.split()[1:]
        commands.append(["iptables", "-D", *[part.strip('"') for part in spec]])
    if re.match(r"qdisc (tbf|netem) ", (tc_root or "").strip()):
        commands.append(qdisc_del(interface))
    return commands
