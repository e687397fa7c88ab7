# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""May this slot take an instance? From `nvidia-smi -q -x`, the kernel log and the disk, before anything changes.

A slot is the GPU set one instance uses (one 80 GB GPU, or a 4-GPU set). Admission refuses, naming the host,
the slot and the number: a driver branch under the image's minimum, too little free memory on a GPU of the
slot, an Xid reported by the kernel for one of its GPUs since boot, uncorrected ECC errors (volatile: since the
driver loaded), pages or rows waiting to be retired or remapped, and too little disk for the image and the weights.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

# This boot's kernel log, in the order tried: the journal where it keeps kernel messages, else the ring buffer.
KERNEL_LOG_COMMANDS = (["journalctl", "-k", "-b", "--no-pager", "-q"], ["dmesg"])

_MIB_RE = re.compile(r"^\s*(\d+)\s*MiB\s*$")
# NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, name=python3, GPU has fallen off the bus.
_XID_RE = re.compile(r"NVRM: Xid \(PCI:(?P<pci>[0-9a-fA-F:.]+)\): (?P<code>\d+)(?:, (?P<text>.*))?")


class AdmissionError(ValueError):
    """Input that cannot be judged (not nvidia-smi XML, an unknown GPU); the message says why."""


def _text(node, path):
    found = node.find(path)
    if found is None or found.text is None:
        return None
    value = found.text.strip()
    return None if value in ("N/A", "", "[N/A]", "Not Supported", "[Not Supported]") else value


def _mib(node, path):
    value = _text(node, path)
    if value is None:
        return None
    match = _MIB_RE.match(value)
    if not match:
        raise AdmissionError(f"{path} is {value!r}, not '<n> MiB'")
    return int(match.group(1))


def _count(node, path):
    value = _text(node, path)
    return int(value) if value is not None and value.isdigit() else None


def pci_key(bus_id):
    """'00000000:3B:00.0' and '0000:3b:00' name the same GPU: (domain, bus, device) as integers."""
    parts = bus_id.lower().replace(".", ":").split(":")
    if len(parts) < 3:
        raise AdmissionError(f"PCI id {bus_id!r} is not domain:bus:device")
    return tuple(int(p, 16) for p in parts[:3])


def parse_query_xml(text):
    """Per-GPU facts from `nvidia-smi -q -x`: memory, ECC, retirement, MIG mode; N/A is None, never 0."""
    try:
        # nvidia-smi's own output on the managed host; ElementTree resolves no external entity.
        root = ET.fromstring(text)  # noqa: S314
    except ET.ParseError as exc:
        raise AdmissionError(f"nvidia-smi -q -x output is not XML ({exc})") from None
    if root.tag != "nvidia_smi_log":
        raise AdmissionError(f"nvidia-smi -q -x output has root <{root.tag}>, not <nvidia_smi_log>")
    gpus = []
    for gpu in root.findall("gpu"):
        uncorrectable = {}
        for scope in ("volatile", "aggregate"):
            counts = [_count(gpu, f"ecc_errors/{scope}/{kind}") for kind in ("sram_uncorrectable", "dram_uncorrectable", "total/uncorrectable")]
            known = [c for c in counts if c is not None]
            uncorrectable[scope] = sum(known) if known else None
        gpus.append(
            {
                "pci_bus_id": gpu.get("id"),
                "uuid": _text(gpu, "uuid"),
                "minor_number": _count(gpu, "minor_number"),
                "product": _text(gpu, "product_name"),
                "memory_total_mib": _mib(gpu, "fb_memory_usage/total"),
                "memory_used_mib": _mib(gpu, "fb_memory_usage/used"),
                "memory_free_mib": _mib(gpu, "fb_memory_usage/free"),
                "mig_mode": _text(gpu, "mig_mode/current_mig"),
                "ecc_uncorrectable_volatile": uncorrectable["volatile"],
                "ecc_uncorrectable_aggregate": uncorrectable["aggregate"],
                "retirement_pending": _text(gpu, "retired_pages/pending_retirement") == "Yes",
                "row_remap_pending": _text(gpu, "remapped_rows/remapped_row_pending") == "Yes",
                "row_remap_failed": _text(gpu, "remapped_rows/remapped_row_failure") == "Yes",
            }
        )
    if not gpus:
        raise AdmissionError("nvidia-smi -q -x lists no GPU")
    return {"driver_version": _text(root, "driver_version"), "cuda_version": _text(root, "cuda_version"), "gpus": gpus}


def parse_xid(kernel_log):
    """The kernel's NVRM Xid lines (dmesg or `journalctl -k -b`): [{pci, code, text}]."""
    events = []
    for line in (kernel_log or "").splitlines():
        match = _XID_RE.search(line)
        if match:
            events.append({"pci": match.group("pci"), "code": int(match.group("code")), "text": (match.group("text") or "").strip()})
    return events


def driver_branch(version):
    """'535.54.03' -> 535."""
    match = re.match(r"^(\d+)\.", str(version or ""))
    if not match:
        raise AdmissionError(f"driver version {version!r} is not <branch>.<minor>[.<patch>]")
    return int(match.group(1))


def _gpu(smi, ref):
    for gpu in smi["gpus"]:
        if str(ref) in (str(gpu["minor_number"]), gpu["uuid"], gpu["pci_bus_id"]):
            return gpu
    known = ", ".join(str(g["minor_number"]) for g in smi["gpus"])
    raise AdmissionError(f"GPU {ref!r} is not on this host (GPUs {known})")


def _check(name, passed, detail):
    return {"check": name, "passed": passed, "detail": detail}


def admit(host, slot, smi, needs_mib, min_driver_branch=None, xid_events=(), disk_free_gb=None, disk_needed_gb=None):
    """{passed, reason, checks} for one slot ({name, gpus: [minor | uuid | PCI id]}); the reason names host, slot, number."""
    where = f"{host} slot {slot['name']}"
    checks, refusals = [], []

    def judge(name, passed, detail):
        checks.append(_check(name, passed, detail))
        if not passed:
            refusals.append(f"{where}: {detail}")

    if min_driver_branch is not None:
        branch = driver_branch(smi["driver_version"])
        judge(
            "driver branch",
            branch >= int(min_driver_branch),
            f"driver {smi['driver_version']} (branch {branch}), the image needs branch {min_driver_branch} or later",
        )
    xid_by_gpu = {}
    for event in xid_events:
        xid_by_gpu.setdefault(pci_key(event["pci"]), []).append(event)
    for ref in slot["gpus"]:
        gpu = _gpu(smi, ref)
        label = f"GPU {gpu['minor_number'] if gpu['minor_number'] is not None else ref}"
        free = gpu["memory_free_mib"]
        judge(
            f"{label} free memory",
            free is not None and free >= needs_mib,
            f"{label} has {free if free is not None else 'unknown'} MiB free, the instance needs {needs_mib} MiB",
        )
        xids = xid_by_gpu.get(pci_key(gpu["pci_bus_id"]), [])
        judge(f"{label} Xid", not xids, f"{label} reported Xid {', '.join(str(e['code']) for e in xids)} since boot" if xids else f"{label}: no Xid since boot")
        ecc = gpu["ecc_uncorrectable_volatile"]
        judge(f"{label} ECC", not ecc, f"{label} has {ecc} uncorrected ECC errors since the driver loaded" if ecc else f"{label}: no uncorrected ECC error")
        pending = gpu["retirement_pending"] or gpu["row_remap_pending"] or gpu["row_remap_failed"]
        judge(
            f"{label} memory repair",
            not pending,
            f"{label} has pages or rows waiting to be retired or remapped (reset the GPU first)" if pending else f"{label}: nothing pending",
        )
    if disk_needed_gb is not None:
        judge(
            "disk",
            disk_free_gb is not None and disk_free_gb >= disk_needed_gb,
            f"{disk_free_gb} GB of disk free, the image and the weights need {disk_needed_gb} GB",
        )
    passed = not refusals
    reason = f"{where}: admitted ({len(slot['gpus'])} GPU(s), {needs_mib} MiB each)" if passed else refusals[0]
    return {"passed": passed, "reason": reason, "checks": checks, "refusals": refusals}
