from __future__ import annotations

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils.gpu_smi import GpuSmiError, parse_query_csv, summarize

from helpers import real_fixture

NOHEADER_FIELDS = ["memory.total", "memory.free", "memory.used", "temperature.gpu", "fan.speed", "utilization.gpu", "utilization.memory"]


def test_h100_all_fields_with_units_na_and_deprecated():
    (gpu,) = parse_query_csv(real_fixture("nvidia-smi-query-gpu-allfields-h100-load.csv"))
    assert len([k for k in gpu if not k.startswith("_")]) == 212
    assert gpu["name"] == "NVIDIA H100 80GB HBM3" and gpu["driver_version"] == "590.48.01"
    assert gpu["_units"]["memory.total"] == "MiB" and isinstance(gpu["memory.total"], int)
    # 61 cells print "[N/A]" and the six fabric.health.* cells a bare "N/A": both are unavailable.
    assert list(gpu["_unavailable"].values()).count("not_available") == 61 + 6
    assert gpu["fabric.health.summary"] is None
    assert list(gpu["_unavailable"].values()).count("deprecated") == 6
    assert gpu["fan.speed"] is None and gpu["timestamp"] == "2026/07/14 08:12:53.353"


def test_rtx2060_values_carry_units_in_cells():
    (gpu,) = parse_query_csv(real_fixture("nvidia-smi-query-rtx2060.csv"))
    assert (gpu["memory.total"], gpu["memory.used"], gpu["utilization.gpu"]) == (5934, 682, 20)
    assert gpu["_units"]["clocks.max.graphics"] == "MHz" and gpu["clocks.max.graphics"] == 2160
    assert gpu["name"] == "GeForce RTX 2060" and gpu["pci.bus_id"] == "00000000:09:00.0"


def test_p100_fan_na_is_none_not_zero():
    (gpu,) = parse_query_csv(real_fixture("nvidia-smi-query-tesla-p100-fan-na.csv"))
    assert gpu["fan.speed"] is None and gpu["_unavailable"] == {"fan.speed": "not_available"}
    assert gpu["memory.free"] == 16280 and gpu["power.draw"] == 28.16


def test_noheader_nounits_needs_the_queried_fields():
    text = real_fixture("nvidia-smi-query-noheader-nounits-fan-na.csv")
    with pytest.raises(GpuSmiError, match="no header line"):
        parse_query_csv(text)
    (gpu,) = parse_query_csv(text, fields=NOHEADER_FIELDS)
    assert (gpu["memory.total"], gpu["memory.used"], gpu["temperature.gpu"], gpu["fan.speed"]) == (2004, 0, 44, None)


def test_not_supported_cell_and_several_gpus():
    text = "index, name, memory.total [MiB], fan.speed [%]\n0, NVIDIA A10, 23028 MiB, [Not Supported]\n1, NVIDIA A10, 23028 MiB, 30 %\n"
    gpus = parse_query_csv(text)
    assert [g["index"] for g in gpus] == [0, 1]
    assert gpus[0]["_unavailable"] == {"fan.speed": "not_supported"} and gpus[1]["fan.speed"] == 30
    summary = summarize(gpus)
    assert summary["count"] == 2 and summary["gpus"][1]["memory_total_mib"] == 23028


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "printed nothing"),
        (
            "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.\n",
            "NVIDIA-SMI has failed",
        ),
        ("No devices were found\n", "No devices were found"),
        ("index, name, memory.total [MiB]\n", "no GPU rows"),
        ("index, name, memory.total [MiB]\n0, NVIDIA A10\n", "truncated"),
        ('Field "memory.bogus" is not a valid field to query.\n', "not a valid field"),
    ],
)
def test_broken_output_is_a_clear_error(text, message):
    with pytest.raises(GpuSmiError, match=message):
        parse_query_csv(text)


def test_noheader_row_with_wrong_field_count_is_an_error():
    with pytest.raises(GpuSmiError, match="3 values for 2 fields"):
        parse_query_csv("1, 2, 3\n", fields=["memory.total", "memory.used"])
