"""Fault requests and network fault plans for playbooks/chaos.yml (issue 17, groundwork), table-tested."""

from __future__ import annotations

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils import chaos

INVENTORY = ["gpu-node-1", "gpu-node-2", "lb", "gpu-9.example"]
LAB = ["gpu-node-1", "gpu-node-2", "lb"]


def test_a_known_fault_on_a_lab_host_is_planned():
    assert chaos.check_request("lb_reload", "lb", INVENTORY, LAB)["group"] == "lb"
    stable = {"version": "v1.0", "digest": "sha256:" + "a" * 64}
    assert chaos.check_request("network_loss", None, INVENTORY, LAB, groups={"gpu_multi": ["gpu-node-2"]}, stable=stable)["target"] == "gpu-node-2"
    with pytest.raises(chaos.ChaosError, match="the ledger has no stable version; run bootstrap.yml first; nothing was injected"):
        chaos.check_request("network_latency", "gpu-node-2", INVENTORY, LAB)
    assert chaos.check_request("network_loss", "gpu-9.example", INVENTORY, LAB, confirm="gpu-9.example", stable=stable)["target"] == "gpu-9.example"


@pytest.mark.parametrize(
    ("fault", "target", "confirm", "lock", "message"),
    [
        ("disk_full", None, None, None, "chaos: unknown fault 'disk_full'; known: dockerd_restart, lb_reload, network_latency, network_loss, service_sigkill;"),
        ("lb_reload", "gpu-node-7", None, None, "chaos: target 'gpu-node-7' is not a host of the inventory"),
        ("lb_reload", "lb;rm -rf /", None, None, "is not a host of the inventory"),
        ("network_loss", "gpu-9.example", None, None, "run again with -e chaos_confirm=gpu-9.example"),
        ("network_loss", "gpu-9.example", "gpu-node-1", None, "run again with -e chaos_confirm=gpu-9.example"),
        ("network_latency", None, None, None, "no target given and the inventory's group gpu_multi is empty"),
        ("lb_reload", "lb", None, {"run_id": "20261207T1", "since": "2026-12-07T19:00:00Z"}, "the rollout lock is held by run 20261207T1"),
    ],
)
def test_a_fault_that_must_not_run_is_refused_in_one_line_naming_what_to_do(fault, target, confirm, lock, message):
    with pytest.raises(chaos.ChaosError, match=message.replace("(", r"\(")) as caught:
        chaos.check_request(fault, target, INVENTORY, LAB, confirm, lock)
    assert "\n" not in str(caught.value) and str(caught.value).endswith("nothing was injected")


def test_loss_without_netem_drops_from_each_peer_and_its_removal_deletes_exactly_those_rules():
    plan = chaos.network_plan("loss", "eth0", ["172.30.77.22", "172.30.77.23"], loss_pct=5)
    assert plan["method"] == "iptables statistic" and len(plan["inject"]) == 2
    assert plan["inject"][0][:5] == ["iptables", "-I", "INPUT", "-s", "172.30.77.22"] and "0.0500" in plan["inject"][0]
    assert [cmd[1] for cmd in plan["remove"]] == ["-D", "-D"] and [c[2:] for c in plan["remove"]] == [c[2:] for c in plan["inject"]]


def test_latency_uses_netem_where_the_kernel_has_it_and_says_tbf_otherwise():
    assert chaos.network_plan("latency", "eth0", netem=True, delay_ms=80)["inject"] == [["tc", "qdisc", "add", "dev", "eth0", "root", "netem", "delay", "80ms"]]
    throttled = chaos.network_plan("latency", "eth0", rate_kbit=256)
    assert throttled["method"].startswith("tc tbf (no netem") and "256kbit" in throttled["inject"][0]
    assert throttled["remove"] == [["tc", "qdisc", "del", "dev", "eth0", "root"]]
    assert chaos.netem_available(0) and not chaos.netem_available(1) and not chaos.netem_available(0, 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "loss", "interface": "eth0; reboot"}, "is not an interface name"),
        ({"kind": "loss", "interface": "eth0", "peers": ["10.0.0.1 -j ACCEPT"]}, "are not addresses"),
        ({"kind": "loss", "interface": "eth0", "peers": ["10.0.0.1"], "loss_pct": 100}, "must be above 0 and under 100"),
        ({"kind": "loss", "interface": "eth0"}, "needs the peers"),
        ({"kind": "latency", "interface": "eth0", "rate_kbit": 1}, "must be in 8-10000000"),
        ({"kind": "jitter", "interface": "eth0"}, "is not loss or latency"),
    ],
)
def test_a_network_plan_refuses_what_would_build_a_wrong_command(kwargs, message):
    with pytest.raises(chaos.ChaosError, match=message):
        chaos.network_plan(**kwargs)


def test_rules_left_behind_are_found_by_their_comment_only():
    saved = "\n".join(
        [
            "*filter",
            "-A INPUT -s 172.30.77.22/32 -m statistic --mode random --probability 0.05000000000 -m comment --comment liveavatar-chaos -j DROP",
            "-A INPUT -s 10.0.0.0/8 -j ACCEPT",
            "COMMIT",
        ]
    )
    assert chaos.leftover_rules(saved) == [saved.splitlines()[1]]


def test_the_chaos_request_module_passes_a_lab_fault_and_refuses_a_held_lock_in_one_line(capsys):
    from ansible_collections.liveavatar.rollout.plugins.modules import chaos_request

    from helpers import run_module

    args = {"fault": "dockerd_restart", "target": "gpu-node-2", "inventory_hosts": INVENTORY, "lab_hosts": LAB}
    result, code = run_module(chaos_request.main, args, capsys, check_mode=True)
    assert code == 0 and result["changed"] is False and result["group"] == "gpu_serving"
    result, code = run_module(chaos_request.main, dict(args, lock_holder={"run_id": "r1", "since": "t"}), capsys)
    assert code == 1 and result["msg"].startswith("chaos: the rollout lock is held by run r1") and "\n" not in result["msg"]


@pytest.mark.parametrize(
    ("saved", "tc_root", "expected"),
    [
        ("", "qdisc noqueue 0: root refcnt 2", []),
        ("", "qdisc tbf 8001: root refcnt 2 rate 100Mbit burst 131072b lat 400ms", [["tc", "qdisc", "del", "dev", "lo", "root"]]),
        ("", "qdisc netem 8002: root refcnt 2 limit 1000 delay 80ms", [["tc", "qdisc", "del", "dev", "lo", "root"]]),
        (
            '-A INPUT -s 127.0.0.1/32 -m statistic --mode random --probability 0.02000000000 -m comment --comment "liveavatar-chaos" -j DROP\n'
            "-A INPUT -s 10.0.0.0/8 -j ACCEPT",
            "qdisc noqueue 0: root refcnt 2",
            [
                [
                    "iptables",
                    "-D",
                    "INPUT",
                    "-s",
                    "127.0.0.1/32",
                    "-m",
                    "statistic",
                    "--mode",
                    "random",
                    "--probability",
                    "0.02000000000",
                    "-m",
                    "comment",
                    "--comment",
                    "liveavatar-chaos",
                    "-j",
                    "DROP",
                ]
            ],
        ),
    ],
)
def test_the_removal_is_read_from_the_hosts_state_and_touches_only_what_chaos_added(saved, tc_root, expected):
    assert chaos.removal_commands(saved, tc_root, "lo") == expected


class FakeHost:
    """The commands network_fault runs, answered from an iptables-save text and a root qdisc; records what ran."""

    def __init__(self, saved="", root="qdisc noqueue 0: root refcnt 2", netem_rc=2, fail=None):
        self.saved, self.root, self.netem_rc, self.fail, self.ran = saved, root, netem_rc, fail, []

    def __call__(self, argv, check_rc=False, **_kwargs):
        self.ran.append(list(argv))
        if argv[0] == "iptables-save":
            return 0, self.saved, ""
        if argv[:3] == ["tc", "qdisc", "show"]:
            return 0, self.root, ""
        if argv[0] == "cat":
            return 0, "65536\n", ""
        if "netem" in argv and argv[1:3] == ["qdisc", "add"] and argv[-1] == "1ms":
            return self.netem_rc, "", "Error: Specified qdisc kind is unknown."
        if self.fail and argv[:2] == self.fail:
            return 1, "", "iptables: No chain/target/match by that name."
        return 0, "", ""


@pytest.mark.parametrize(
    ("args", "host", "expect"),
    [
        # Without netem: a loss is iptables rules, the throttle a tbf bucket of at least two 64 KiB loopback frames.
        ({"kind": "loss", "peers": ["127.0.0.1"], "loss_pct": 10}, FakeHost(), {"code": 0, "method": "iptables statistic", "ran": "-I"}),
        ({"kind": "latency", "rate_kbit": 100000}, FakeHost(), {"code": 0, "method": "tc tbf", "ran": "131072"}),
        ({"kind": "latency", "delay_ms": 80}, FakeHost(netem_rc=0), {"code": 0, "method": "netem", "ran": "80ms"}),
        # A fault an earlier run left refuses a new one; the removal reads the host and deletes it.
        ({"kind": "latency"}, FakeHost(root="qdisc tbf 8001: root refcnt 2 rate 100Mbit"), {"code": 1, "msg": "still on this host"}),
        ({"state": "absent"}, FakeHost(root="qdisc tbf 8001: root refcnt 2 rate 100Mbit"), {"code": 0, "changed": True, "ran": "del"}),
        ({"state": "absent"}, FakeHost(), {"code": 0, "changed": False}),
        # A failed insert takes back what the plan already added.
        ({"kind": "loss", "peers": ["127.0.0.1", "127.0.0.2"]}, FakeHost(fail=["iptables", "-I"]), {"code": 1, "msg": "what was added is removed"}),
        ({"kind": "loss", "interface": "eth0; reboot"}, FakeHost(), {"code": 1, "msg": "is not an interface name; nothing was injected"}),
    ],
)
def test_the_network_fault_module_injects_by_what_the_kernel_has_and_removes_what_it_finds(monkeypatch, capsys, args, host, expect):
    from ansible.module_utils.basic import AnsibleModule

    from ansible_collections.liveavatar.rollout.plugins.modules import network_fault

    from helpers import run_module

    monkeypatch.setattr(AnsibleModule, "run_command", lambda _module, argv, **kwargs: host(argv, **kwargs))
    result, code = run_module(network_fault.main, args, capsys)
    assert code == expect["code"], result
    if "method" in expect:
        assert result["method"].startswith(expect["method"]) and result["changed"] is True
    if "msg" in expect:
        assert expect["msg"] in result["msg"] and "\n" not in result["msg"]
    if "changed" in expect:
        assert result["changed"] is expect["changed"]
    if "ran" in expect:
        assert any(expect["ran"] in argv for argv in host.ran[2:]), host.ran
    check_host = FakeHost()
    monkeypatch.setattr(AnsibleModule, "run_command", lambda _module, argv, **kwargs: check_host(argv, **kwargs))
    result, code = run_module(network_fault.main, {"kind": "loss", "peers": ["127.0.0.1"]}, capsys, check_mode=True)
    assert code == 0 and result["changed"] is True and [a[0] for a in check_host.ran] == ["iptables-save", "tc"], check_host.ran
