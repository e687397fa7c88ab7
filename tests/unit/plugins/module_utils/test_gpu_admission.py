"""Slot admission (issue 14 item 6) on the real `nvidia-smi -q -x` capture, and the refusals it must make."""

from __future__ import annotations

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils import gpu_admission as ga

from helpers import real_fixture

A100 = "nvidia-smi-q-x-a100-sxm4-80gb-mig.xml"


def a100(**changes):
    """The real capture, with one field changed where a refusal needs it (the change is named in each test)."""
    text = real_fixture(A100)
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new, 1)
    return text


def test_the_real_a100_capture_parses_with_na_as_none():
    smi = ga.parse_query_xml(real_fixture(A100))
    assert smi["driver_version"] == "535.54.03" and smi["cuda_version"] == "12.2"
    [gpu] = smi["gpus"]  # the contributor trimmed the capture to one <gpu> (SOURCES.md)
    assert gpu["pci_bus_id"] == "00000000:01:00.0" and gpu["minor_number"] == 1 and gpu["uuid"].startswith("GPU-5135")
    assert (gpu["memory_total_mib"], gpu["memory_used_mib"], gpu["memory_free_mib"]) == (81920, 50, 80999)
    assert gpu["mig_mode"] == "Enabled" and gpu["ecc_uncorrectable_volatile"] == 0 and gpu["ecc_uncorrectable_aggregate"] == 0
    assert gpu["retirement_pending"] is False and gpu["row_remap_pending"] is False


def test_an_80gb_slot_on_the_real_capture_is_admitted():
    smi = ga.parse_query_xml(real_fixture(A100))
    got = ga.admit("gpu-node-3", {"name": "a", "gpus": [1]}, smi, needs_mib=78000, min_driver_branch=535, disk_free_gb=400, disk_needed_gb=120)
    assert got["passed"], got["refusals"]
    assert got["reason"] == "gpu-node-3 slot a: admitted (1 GPU(s), 78000 MiB each)"


@pytest.mark.parametrize(
    ("changes", "kwargs", "reason"),
    [
        ({}, {"min_driver_branch": 550}, "gpu-node-3 slot a: driver 535.54.03 (branch 535), the image needs branch 550 or later"),
        ({"<free>80999 MiB</free>": "<free>20480 MiB</free>"}, {}, "gpu-node-3 slot a: GPU 1 has 20480 MiB free, the instance needs 78000 MiB"),
        (
            {"<dram_uncorrectable>0</dram_uncorrectable>": "<dram_uncorrectable>2</dram_uncorrectable>"},
            {},
            "gpu-node-3 slot a: GPU 1 has 2 uncorrected ECC errors since the driver loaded",
        ),
        ({"<pending_retirement>N/A</pending_retirement>": "<pending_retirement>Yes</pending_retirement>"}, {}, "waiting to be retired or remapped"),
        ({}, {"disk_free_gb": 50, "disk_needed_gb": 120}, "gpu-node-3 slot a: 50 GB of disk free, the image and the weights need 120 GB"),
        (
            {},
            {"xid_events": ga.parse_xid("[ 8123.4] NVRM: Xid (PCI:0000:01:00): 79, pid=4242, name=python3, GPU has fallen off the bus.")},
            "gpu-node-3 slot a: GPU 1 reported Xid 79 since boot",
        ),
    ],
)
def test_each_refusal_names_the_host_the_slot_and_the_number(changes, kwargs, reason):
    smi = ga.parse_query_xml(a100(**changes))
    got = ga.admit("gpu-node-3", {"name": "a", "gpus": [1]}, smi, needs_mib=78000, **kwargs)
    assert not got["passed"] and reason in got["reason"], got


def test_an_xid_of_another_gpu_does_not_refuse_this_slot():
    events = ga.parse_xid("NVRM: Xid (PCI:0000:3b:00): 48, pid=1, Double Bit ECC Error\nunrelated line\n")
    assert events == [{"pci": "0000:3b:00", "code": 48, "text": "pid=1, Double Bit ECC Error"}]
    smi = ga.parse_query_xml(real_fixture(A100))
    assert ga.admit("n", {"name": "a", "gpus": [1]}, smi, needs_mib=1000, xid_events=events)["passed"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.", "is not XML"),
        ("<other/>", "root <other>, not <nvidia_smi_log>"),
        ("<nvidia_smi_log><driver_version>535.54.03</driver_version></nvidia_smi_log>", "lists no GPU"),
        (
            "<nvidia_smi_log><gpu id='00000000:01:00.0'><fb_memory_usage><free>lots</free></fb_memory_usage></gpu></nvidia_smi_log>",
            "fb_memory_usage/free is 'lots'",
        ),
    ],
)
def test_output_that_is_not_a_usable_answer_is_one_clear_error(text, message):
    with pytest.raises(ga.AdmissionError, match=message):
        ga.parse_query_xml(text)


def test_a_slot_naming_a_gpu_the_host_does_not_have_is_an_error():
    smi = ga.parse_query_xml(real_fixture(A100))
    with pytest.raises(ga.AdmissionError, match=r"GPU '7' is not on this host \(GPUs 1\)"):
        ga.admit("n", {"name": "a", "gpus": ["7"]}, smi, needs_mib=1)


def test_pci_ids_in_both_spellings_name_the_same_gpu():
    assert ga.pci_key("00000000:01:00.0") == ga.pci_key("0000:01:00") == (0, 1, 0)
    assert ga.driver_branch("560.35.03") == 560


def test_the_module_refuses_in_one_line_and_fails_only_on_what_it_cannot_judge(capsys, tmp_path):
    from ansible_collections.liveavatar.rollout.plugins.modules import gpu_admission

    from helpers import run_module

    args = {"host": "gpu-node-3", "slot": {"name": "a", "gpus": [1]}, "needs_mib": 90000, "kernel_log": "", "disk_path": str(tmp_path), "disk_needed_gb": 0.001}
    result, code = run_module(gpu_admission.main, dict(args, smi_xml=real_fixture(A100)), capsys)
    assert code == 0 and result["passed"] is False and result["changed"] is False
    assert result["reason"] == "gpu-node-3 slot a: GPU 1 has 80999 MiB free, the instance needs 90000 MiB"
    result, code = run_module(gpu_admission.main, dict(args, smi_xml="NVIDIA-SMI has failed"), capsys)
    assert code == 1 and result["msg"].startswith("gpu_admission: gpu-node-3 slot a: nvidia-smi -q -x output is not XML")
    result, code = run_module(gpu_admission.main, dict(args, slot={"name": "a", "gpus": []}, smi_xml=real_fixture(A100)), capsys)
    assert code == 1 and "needs a name and a non-empty list of gpus" in result["msg"]


def test_the_module_reads_xid_from_a_kernel_log_file_and_fails_on_one_it_cannot_read(capsys, tmp_path):
    from ansible_collections.liveavatar.rollout.plugins.modules import gpu_admission

    from helpers import run_module

    kern = tmp_path / "kern.log"
    kern.write_text("Dec  4 10:00:01 gpu-node-3 kernel: NVRM: Xid (PCI:0000:01:00): 48, pid=77, DBE (double bit error) ECC error\n")
    args = {"host": "gpu-node-3", "slot": {"name": "a", "gpus": [1]}, "needs_mib": 1000, "smi_xml": real_fixture(A100), "kernel_log_path": str(kern)}
    result, code = run_module(gpu_admission.main, args, capsys)
    assert code == 0 and result["passed"] is False
    assert "gpu-node-3 slot a: GPU 1 reported Xid 48 since boot" in result["refusals"]
    result, code = run_module(gpu_admission.main, dict(args, kernel_log_path=str(tmp_path / "absent.log")), capsys)
    assert (
        code == 1
        and result["msg"]
        == f"gpu_admission: gpu-node-3: cannot read the kernel log {tmp_path / 'absent.log'} (No such file or directory): Xid errors cannot be ruled out"
    )
