# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse `nvidia-smi --query-gpu=... --format=csv[,noheader][,nounits]` output into per-GPU facts."""

from __future__ import annotations

import csv
import io
import re

# Cells nvidia-smi prints when a field has no value on this GPU or driver.
UNAVAILABLE = {
    "[N/A]": "not_available",
    "N/A": "not_available",
    "[Not Supported]": "not_supported",
    "[Unknown Error]": "unknown_error",
    "[Insufficient Permissions]": "insufficient_permissions",
    "[Requested functionality has been deprecated]": "deprecated",
}
_HEADER_UNIT_RE = re.compile(r"^(?P<field>[A-Za-z0-9_.]+)(?:\s*\[(?P<unit>[^\]]+)\])?$")
_VALUE_UNIT_RE = re.compile(r"^(?P<num>[-+]?\d+(?:\.\d+)?)\s*(?P<unit>%|[KMGT]iB|MHz|W|C|us|ms|s)?$")
_INT_RE = re.compile(r"^[-+]?\d+$")
_FLOAT_RE = re.compile(r"^[-+]?\d+\.\d+$")
_FAILURE_RE = re.compile(
    r"NVIDIA-SMI has failed|couldn't communicate with the NVIDIA driver|No devices were found"
    r"|is not a valid field to query|command not found|No such file or directory"
)


class GpuSmiError(ValueError):
    """The output is not a usable nvidia-smi CSV answer; the message says why."""


def _convert(cell):
    """Return (value, unit, unavailable_reason) for one CSV cell."""
    cell = cell.strip()
    if cell in UNAVAILABLE:
        return None, None, UNAVAILABLE[cell]
    match = _VALUE_UNIT_RE.match(cell)
    if match:
        number = match.group("num")
        value = int(number) if _INT_RE.match(number) else float(number)
        return value, match.group("unit"), None
    if _FLOAT_RE.match(cell):
        return float(cell), None, None
    return cell, None, None


def _looks_like_header(cells):
    return all(_HEADER_UNIT_RE.match(c.strip()) and not _INT_RE.match(c.strip()) for c in cells) and any(
        "." in c or c.strip() in ("name", "index", "uuid", "count", "timestamp", "pstate", "serial") for c in cells
    )


def parse_query_csv(text, fields=None):
    """Parse the CSV into a list of GPU dicts keyed by query field.

    With a header line the field names (and units) come from it; with `noheader` the caller
    passes the queried `fields` in order. Unavailable cells become None and are listed under
    `_unavailable` with the reason, so `[N/A]` is never read as 0.
    """
    if text is None or not text.strip():
        raise GpuSmiError("nvidia-smi printed nothing: no GPU answered the query")
    failure = next((line for line in text.splitlines() if _FAILURE_RE.search(line)), None)
    if failure is not None:
        raise GpuSmiError(f"nvidia-smi failed: {failure.strip()}")
    rows = [r for r in csv.reader(io.StringIO(text.strip()), skipinitialspace=True) if r]
    header_units = {}
    if _looks_like_header(rows[0]):
        names = []
        for cell in rows[0]:
            match = _HEADER_UNIT_RE.match(cell.strip())
            names.append(match.group("field"))
            if match.group("unit"):
                header_units[match.group("field")] = match.group("unit")
        rows = rows[1:]
        if fields is not None and list(fields) != names:
            raise GpuSmiError(f"header fields {names} differ from the queried fields {list(fields)}")
    elif fields is None:
        raise GpuSmiError("CSV has no header line: pass the queried fields (format=csv,noheader)")
    else:
        names = list(fields)
    if not rows:
        raise GpuSmiError("nvidia-smi printed a header but no GPU rows")
    gpus = []
    for number, row in enumerate(rows, start=1):
        if len(row) != len(names):
            raise GpuSmiError(f"row {number} has {len(row)} values for {len(names)} fields (truncated output?)")
        gpu = {"_units": {}, "_unavailable": {}}
        for name, cell in zip(names, row, strict=True):
            value, unit, unavailable = _convert(cell)
            gpu[name] = value
            if unavailable:
                gpu["_unavailable"][name] = unavailable
            elif unit or name in header_units:
                gpu["_units"][name] = unit or header_units[name]
        gpus.append(gpu)
    return gpus


def summarize(gpus):
    """Facts a playbook gates on: count, names, memory totals/used (MiB) per GPU index."""
    summary = {"count": len(gpus), "gpus": []}
    for position, gpu in enumerate(gpus):
        summary["gpus"].append(
            {
                "index": gpu.get("index", position),
                "name": gpu.get("name"),
                "uuid": gpu.get("uuid"),
                "memory_total_mib": gpu.get("memory.total"),
                "memory_used_mib": gpu.get("memory.used"),
                "memory_free_mib": gpu.get("memory.free"),
                "utilization_gpu_pct": gpu.get("utilization.gpu"),
            }
        )
    return summary
