"""The lab's nvidia-smi: -q -x in the layout the collection's admission parses, injected faults, and memory of live
processes only (a killed container's state file goes stale)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from conftest import WORKLOAD

from ansible_collections.liveavatar.rollout.plugins.module_utils.gpu_admission import admit, parse_query_xml

SMI = WORKLOAD / "bin" / "nvidia-smi"


def smi(tmp_path, *argv, faults=None):
    (tmp_path / "gpus.json").write_text(json.dumps({"count": 2, "memory_gb": 80}))
    if faults is not None:
        (tmp_path / "faults.json").write_text(json.dumps(faults))
    env = dict(
        os.environ,
        SIM_GPU_CONFIG=str(tmp_path / "gpus.json"),
        SIM_GPU_FAULTS=str(tmp_path / "faults.json"),
        SIM_GPU_STATE_GLOB=str(tmp_path / "state" / "*" / "gpus.json"),
    )
    return subprocess.run([sys.executable, str(SMI), *argv], env=env, capture_output=True, text=True, check=True).stdout


def publish(tmp_path, track, used_mib, age_s=0):
    path = tmp_path / "state" / track / "gpus.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"gpus": [{"index": 0, "memory_used_mib": used_mib}]}))
    stamp = time.time() - age_s
    os.utime(path, (stamp, stamp))


def test_the_xml_is_what_admission_parses_and_memory_counts_only_live_processes(tmp_path):
    publish(tmp_path, "stable", 42803)
    publish(tmp_path, "canary", 42803, age_s=60)  # a killed container's last state
    parsed = parse_query_xml(smi(tmp_path, "-q", "-x"))
    assert parsed["driver_version"] == "550.54.15"
    assert [(g["minor_number"], g["memory_used_mib"], g["memory_free_mib"]) for g in parsed["gpus"]] == [(0, 42803, 39117), (1, 0, 81920)]
    csv = smi(tmp_path, "--query-gpu=index,memory.used", "--format=csv,noheader,nounits")
    assert csv.splitlines() == ["0, 42803", "1, 0"]
    result = admit("gpu-node-3", {"name": "a", "gpus": [0]}, parsed, 73728)
    assert result["reason"] == "gpu-node-3 slot a: GPU 0 has 39117 MiB free, the instance needs 73728 MiB"


def test_injected_faults_are_refused_by_admission(tmp_path):
    faults = {"driver_version": "470.82.01", "gpus": {"1": {"ecc_uncorrected": 2, "retirement_pending": True, "foreign_used_mib": 1000}}}
    parsed = parse_query_xml(smi(tmp_path, "-q", "-x", faults=faults))
    refusals = admit("n", {"name": "b", "gpus": [1]}, parsed, 80000, min_driver_branch=535)["refusals"]
    assert refusals == [
        "n slot b: driver 470.82.01 (branch 470), the image needs branch 535 or later",
        "n slot b: GPU 1 has 2 uncorrected ECC errors since the driver loaded",
        "n slot b: GPU 1 has pages or rows waiting to be retired or remapped (reset the GPU first)",
    ]
    assert admit("n", {"name": "b", "gpus": [1]}, parsed, 81000)["refusals"][:1] == ["n slot b: GPU 1 has 80920 MiB free, the instance needs 81000 MiB"]


def test_the_text_report_has_nvidia_smis_layout_and_the_same_numbers_as_the_xml(tmp_path):
    """`nvidia-smi -q`, as an incident bundle keeps it: the real header, one block per GPU, memory as the XML says."""
    publish(tmp_path, "stable", 30000)
    text = smi(tmp_path, "-q", faults={"gpus": {"1": {"ecc_uncorrected": 2}}})
    lines = text.splitlines()
    assert "==============NVSMI LOG==============" in lines and "Attached GPUs                             : 2" in lines
    assert [line for line in lines if line.startswith("GPU ")] == ["GPU 00000000:01:00.0", "GPU 00000000:02:00.0"]
    assert "        Used                              : 30000 MiB" in lines
    assert "            SRAM Uncorrectable            : 2" in lines
