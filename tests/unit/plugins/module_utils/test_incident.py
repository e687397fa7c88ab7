"""The incident bundle (issue 17 item 2): redaction, kernel GPU lines, cut files, and the module on a fake host."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.liveavatar.rollout.plugins.module_utils import incident

from helpers import real_fixture, run_module


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HF_TOKEN=hf_abcdef123456", "HF_TOKEN=<redacted>"),
        ("smtp_auth_password: s3cr3t-pw", "smtp_auth_password: <redacted>"),
        ('{"wechat_api_secret": "lab-secret", "agent": "1000002"}', '{"wechat_api_secret": "<redacted>", "agent": "1000002"}'),
        ("GET /cgi-bin/gettoken?corpid=c&corpsecret=xyz123 200", "GET /cgi-bin/gettoken?corpid=c&corpsecret=<redacted> 200"),
        ("pull https://bot:p4ssw0rd@registry.example/v2/", "pull https://<redacted>@registry.example/v2/"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.x", "Authorization: Bearer <redacted>"),
        ("a\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\nb", "a\n<redacted>\nb"),
        # nothing secret: untouched
        ("NCCL INFO Channel 00/02 : 0 1 2 3; size 1048576 time 8123.4 us", "NCCL INFO Channel 00/02 : 0 1 2 3; size 1048576 time 8123.4 us"),
        ("LIVEAVATAR_VERSION=v1.2 SAMPLE_STEPS=4", "LIVEAVATAR_VERSION=v1.2 SAMPLE_STEPS=4"),
    ],
)
def test_secrets_never_leave_redaction(text, expected):
    assert incident.redact(text) == expected


def test_known_secret_values_are_redacted_wherever_they_appear():
    assert incident.redact("loading with key q9Zk-77xx from env", ["q9Zk-77xx", "", "ab"]) == "loading with key <redacted> from env"


def test_the_kernel_lines_about_the_gpus_are_kept_in_order():
    log = "\n".join(
        [
            "[    1.0] Linux version 6.1.0",
            "[    4.2] nvidia: loading out-of-tree module taints kernel.",
            "[ 8123.4] NVRM: Xid (PCI:0000:01:00): 79, pid=4242, name=python3, GPU has fallen off the bus.",
            "[ 8124.0] eth0: link up",
            "[ 8125.1] NVRM: GPU 0000:01:00.0: GPU has fallen off the bus.",
        ]
    )
    assert incident.kernel_gpu_lines(log) == [log.splitlines()[1], log.splitlines()[2], log.splitlines()[4]]


def test_the_real_cuda_and_nccl_failures_keep_their_last_lines_when_cut():
    text = real_fixture("pytorch-nccl-watchdog-timeout.txt")
    cut = incident.tail(text, 1024)
    first, rest = cut.split("\n", 1)
    assert first.startswith("[incident bundle: the first ") and first.endswith("bytes were cut; the last 1024 kept]")
    assert text.endswith(rest) and len(rest.encode()) <= 1024
    assert incident.tail("short\n", 1024) == "short\n"


@pytest.mark.parametrize(
    ("parts", "name"),
    [(("container", "liveavatar-canary"), "container-liveavatar-canary"), (("file", "srv/x/../a b.txt"), "file-srv_x_.._a_b.txt"), ((), "unnamed")],
)
def test_bundle_file_names_are_one_plain_segment(parts, name):
    assert incident.file_name(*parts) == name


def test_the_module_reads_the_host_and_redacts_the_containers_own_secrets(monkeypatch, capsys, tmp_path):
    from ansible_collections.liveavatar.rollout.plugins.modules import incident_evidence

    nccl = tmp_path / "job.nccl.txt"
    nccl.write_text("#  size  time\n 1048576  8123.4\n")
    env = json.dumps(["LIVEAVATAR_VERSION=v1.2", "MODEL_STORE_PASSWORD=zz-top-77"])

    def host(argv, **_kwargs):
        command = " ".join(argv[1:])
        if argv[0].endswith("nvidia-smi") and argv[1:] == ["-q"]:
            return 0, "==============NVSMI LOG==============\nDriver Version : 550.54.15\n", ""
        if argv[0].endswith("nvidia-smi"):
            return 0, "<nvidia_smi_log><driver_version>550.54.15</driver_version></nvidia_smi_log>\n", ""
        if argv[0].endswith("journalctl"):
            return 0, "boot\nNVRM: Xid (PCI:0000:01:00): 48, pid=7, DBE\n", ""
        if command.startswith("logs") and argv[-1] == "liveavatar-canary":
            return 0, "2026-12-08T01:00:00Z starting; store login with zz-top-77\n", ""
        if command.startswith("logs"):
            return 1, "", f"Error response from daemon: No such container: {argv[-1]}"
        if command.startswith("inspect"):
            return 0, env + "\n", ""
        raise AssertionError(argv)

    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda _module, name, *args, **kwargs: f"/usr/bin/{name}")
    monkeypatch.setattr(AnsibleModule, "run_command", lambda _module, argv, **kwargs: host(argv, **kwargs))
    args = {
        "containers": ["liveavatar-canary", "liveavatar-stage"],
        "paths": [str(tmp_path / "*.nccl.txt"), str(tmp_path / "none-*")],
        "texts": {"stage1-service.log": "ready; HF_TOKEN=hf_x1y2z3 zz-top-77"},
    }
    result, code = run_module(incident_evidence.main, args, capsys)
    assert code == 0 and not result["changed"]
    files = result["files"]
    assert set(files) == {
        "stage1-service.log",
        "nvidia-smi-q.txt",
        "nvidia-smi-q.xml",
        "kernel-gpu.log",
        "container-liveavatar-canary.log",
        incident.file_name("file", str(nccl).lstrip("/")),
    }
    assert files["stage1-service.log"] == "ready; HF_TOKEN=<redacted> <redacted>"
    assert files["kernel-gpu.log"] == "NVRM: Xid (PCI:0000:01:00): 48, pid=7, DBE\n"
    assert "zz-top-77" not in json.dumps(files) and "store login with <redacted>" in files["container-liveavatar-canary.log"]
    assert result["missing"] == [
        "container liveavatar-stage: docker logs --timestamps --tail 2000 liveavatar-stage exited 1: "
        "Error response from daemon: No such container: liveavatar-stage",
        f"{tmp_path}/none-*: no such file",
    ]


def test_a_host_without_nvidia_smi_says_so_instead_of_failing(monkeypatch, capsys, tmp_path):
    from ansible_collections.liveavatar.rollout.plugins.modules import incident_evidence

    kern = tmp_path / "kern.log"
    kern.write_text("NVRM: Xid (PCI:0000:3b:00): 79, pid=1, fallen off the bus\n")
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda _module, name, *args, **kwargs: None)
    result, code = run_module(incident_evidence.main, {"kernel_log_path": str(kern)}, capsys)
    assert code == 0 and result["missing"] == [
        "nvidia-smi -q: nvidia-smi is not installed on this host",
        "nvidia-smi -q -x: nvidia-smi is not installed on this host",
    ]
    assert result["files"] == {"kernel-gpu.log": "NVRM: Xid (PCI:0000:3b:00): 79, pid=1, fallen off the bus\n"}
    kern.write_text("eth0: link up\n")
    result, _code = run_module(incident_evidence.main, {"kernel_log_path": str(kern)}, capsys)
    assert result["files"]["kernel-gpu.log"] == "# no Xid, NVRM or nvidia line in this boot's kernel log\n"
    result, code = run_module(incident_evidence.main, {"max_bytes": 10}, capsys)
    assert code == 1 and result["msg"].startswith("incident_evidence: log_lines (2000) must be 1 or more and max_bytes (10) 1024 or more")


def test_the_bundle_has_a_folder_per_host_with_what_was_missing_and_redacts_the_controllers_files_too():
    hosts = [
        {"canary_release_incident_host": "gpu-node-2", "files": {"kernel-gpu.log": "NVRM: Xid 79\n"}, "missing": ["container x: gone"]},
        {"canary_release_incident_host": "gpu-node-9", "unreachable": True, "msg": "ssh: connect timed out"},
    ]
    files = incident.bundle_files(hosts, {"ledger-entry.json": '{"api_token": "t0k3n-abc"}'}, "canary_release_incident_host")
    assert files == {
        "gpu-node-2/kernel-gpu.log": "NVRM: Xid 79\n",
        "gpu-node-2/missing.json": '[\n  "container x: gone"\n]\n',
        "gpu-node-9/missing.json": '[\n  "host not read: ssh: connect timed out"\n]\n',
        "ledger-entry.json": '{"api_token": "<redacted>"}',
    }


def test_the_bundle_module_writes_once_and_check_mode_writes_nothing(capsys, tmp_path):
    from ansible_collections.liveavatar.rollout.plugins.modules import incident_bundle

    args = {
        "dest": str(tmp_path / "incident"),
        "hosts": [{"host": "gpu-node-1", "files": {"nvidia-smi-q.txt": "NVSMI LOG"}}],
        "files": {"abort-alert.json": {"sent": True}},
    }
    result, code = run_module(incident_bundle.main, args, capsys, check_mode=True)
    assert code == 0 and result["changed"] and not (tmp_path / "incident").exists()
    result, code = run_module(incident_bundle.main, args, capsys)
    assert code == 0 and sorted(result["written"]) == ["abort-alert.json", "gpu-node-1/missing.json", "gpu-node-1/nvidia-smi-q.txt"]
    assert json.loads((tmp_path / "incident" / "abort-alert.json").read_text()) == {"sent": True}
    assert oct((tmp_path / "incident" / "gpu-node-1" / "nvidia-smi-q.txt").stat().st_mode & 0o777) == "0o640"
    again, _code = run_module(incident_bundle.main, args, capsys)
    assert not again["changed"] and again["written"] == []
