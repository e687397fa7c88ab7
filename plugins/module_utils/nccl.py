# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse nccl-tests `all_reduce_perf` output and gate on latency and bus bandwidth (pure Python)."""

from __future__ import annotations

import math
import re

_HEADER_RE = re.compile(r"^#\s*nThread\s+(\d+)\s+nGpus\s+(\d+)\s+minBytes\s+(\d+)\s+maxBytes\s+(\d+)")
_RANK_RE = re.compile(r"^#\s*Rank\s+(\d+)\s+Group\s+\d+\s+Pid\s+\d+\s+on\s+(\S+)\s+device\s+(\d+)\s+\[[^\]]*\]\s+(.*?)\s*$")
_VERSION_RE = re.compile(r"NCCL version\s+(\S+)")
_AVG_RE = re.compile(r"^#\s*Avg bus bandwidth\s*:\s*(\S+)")
_OOB_RE = re.compile(r"^#\s*Out of bounds values\s*:\s*(\d+)")
_ERROR_RE = re.compile(
    r"Test (?:NCCL|CUDA) failure|(?<!Test )NCCL failure|Test failure|NCCL WARN Cuda failure"
    r"|exited with non-zero status|NCCL ERROR"
)
_WARN_RE = re.compile(r"NCCL WARN")
_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)"
_WRONG = r"(?:\d+|N/A|" + _NUM + r")"
# size count type redop [root] | time algbw busbw #wrong | time algbw busbw #wrong
_ROW_RE = re.compile(
    r"^\s*(\d+)\s+(\d+)\s+(\w+)\s+(\w+)\s+(?:(-?\d+)\s+)?"
    rf"({_NUM})\s+({_NUM})\s+({_NUM})\s+({_WRONG})\s+({_NUM})\s+({_NUM})\s+({_NUM})\s+({_WRONG})\s*$"
)

PLACEMENTS = ("out_of_place", "in_place")


class NcclParseError(ValueError):
    """The text is not all_reduce_perf output that can be judged."""


def _wrong(value):
    if value == "N/A":
        return None
    number = float(value)
    return int(number) if number.is_integer() else number


def parse_all_reduce(text):
    """Return header, ranks, result rows, average bus bandwidth, errors and warnings of one run."""
    if not text or not text.strip():
        raise NcclParseError("all_reduce_perf output is empty")
    result = {
        "nthread": None,
        "ngpus": None,
        "min_bytes": None,
        "max_bytes": None,
        "nccl_version": None,
        "ranks": [],
        "rows": [],
        "avg_busbw": None,
        "out_of_bounds": None,
        "errors": [],
        "warnings": [],
    }
    for raw in text.splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped:
            continue
        header = _HEADER_RE.match(stripped)
        if header:
            result["nthread"], result["ngpus"], result["min_bytes"], result["max_bytes"] = map(int, header.groups())
            continue
        rank = _RANK_RE.match(stripped)
        if rank:
            result["ranks"].append({"rank": int(rank.group(1)), "host": rank.group(2), "device": int(rank.group(3)), "name": rank.group(4)})
            continue
        version = _VERSION_RE.search(stripped)
        if version and not stripped.startswith("#"):
            result["nccl_version"] = version.group(1)
            continue
        avg = _AVG_RE.match(stripped)
        if avg:
            result["avg_busbw"] = float(avg.group(1))
            continue
        oob = _OOB_RE.match(stripped)
        if oob:
            result["out_of_bounds"] = int(oob.group(1))
            continue
        if _ERROR_RE.search(stripped):
            result["errors"].append(stripped)
            continue
        if _WARN_RE.search(stripped):
            result["warnings"].append(stripped)
            continue
        row = _ROW_RE.match(line)
        if row:
            g = row.groups()
            result["rows"].append(
                {
                    "size": int(g[0]),
                    "count": int(g[1]),
                    "type": g[2],
                    "redop": g[3],
                    "root": int(g[4]) if g[4] is not None else None,
                    "out_of_place": {
                        "time_us": float(g[5]),
                        "algbw": float(g[6]),
                        "busbw": float(g[7]),
                        "wrong": _wrong(g[8]),
                    },
                    "in_place": {
                        "time_us": float(g[9]),
                        "algbw": float(g[10]),
                        "busbw": float(g[11]),
                        "wrong": _wrong(g[12]),
                    },
                }
            )
    result["nranks"] = max((r["rank"] for r in result["ranks"]), default=-1) + 1 or None
    result["hosts"] = sorted({r["host"] for r in result["ranks"]})
    if result["nthread"] is None and not result["rows"] and not result["errors"]:
        raise NcclParseError("no all_reduce_perf header or result rows found: is this nccl-tests output?")
    return result


def _check(name, passed, value, limit, reason, inconclusive=False):
    return {
        "name": name,
        "passed": passed,
        "inconclusive": inconclusive,
        "value": value,
        "limit": limit,
        "reason": reason,
    }


def evaluate(parsed, size_bytes, max_latency_us=None, min_busbw=None, placement="out_of_place"):
    """Gate one parsed run: no errors, no wrong results, latency at a size, average bus bandwidth.

    Returns {passed, inconclusive, reason, checks}. A single-rank run has busbw 0 by definition:
    its bandwidth check is inconclusive, never a pass and never a failure of the hardware.
    """
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
    checks = []
    if parsed["errors"]:
        first = parsed["errors"][0]
        checks.append(_check("errors", False, len(parsed["errors"]), 0, f"NCCL run failed: {first}"))
        return _verdict(checks)
    if not parsed["rows"]:
        checks.append(_check("rows", False, 0, ">0", "no result rows in all_reduce_perf output (truncated run?)"))
        return _verdict(checks)
    wrong_rows = [r for r in parsed["rows"] if any((r[p]["wrong"] or 0) > 0 for p in PLACEMENTS)]
    if wrong_rows:
        r = wrong_rows[0]
        checks.append(
            _check(
                "wrong",
                False,
                len(wrong_rows),
                0,
                f"{len(wrong_rows)} size(s) with wrong results, first at {r['size']} B (#wrong {r['out_of_place']['wrong']}/{r['in_place']['wrong']})",
            )
        )
    else:
        checks.append(_check("wrong", True, 0, 0, "no wrong results"))
    if parsed["out_of_bounds"]:
        checks.append(_check("out_of_bounds", False, parsed["out_of_bounds"], 0, f"{parsed['out_of_bounds']} out-of-bounds values"))
    if max_latency_us is not None:
        row = next((r for r in parsed["rows"] if r["size"] == int(size_bytes)), None)
        if row is None:
            sizes = [r["size"] for r in parsed["rows"]]
            checks.append(
                _check(
                    "latency",
                    False,
                    None,
                    max_latency_us,
                    f"size {size_bytes} B is not in the table ({min(sizes)}..{max(sizes)} B)",
                )
            )
        else:
            latency = row[placement]["time_us"]
            ok = math.isfinite(latency) and latency <= max_latency_us
            checks.append(
                _check(
                    "latency",
                    ok,
                    latency,
                    max_latency_us,
                    f"{placement} latency at {size_bytes} B is {latency} us (limit {max_latency_us} us)",
                )
            )
    if min_busbw is not None:
        nranks = parsed["nranks"] or parsed["ngpus"]
        busbw = parsed["avg_busbw"]
        if nranks == 1:
            checks.append(
                _check(
                    "busbw",
                    False,
                    busbw,
                    min_busbw,
                    "single-rank run: bus bandwidth is 0 by definition, run with 2 or more GPUs",
                    inconclusive=True,
                )
            )
        elif busbw is None:
            checks.append(_check("busbw", False, None, min_busbw, "no '# Avg bus bandwidth' line: the run did not finish"))
        else:
            ok = math.isfinite(busbw) and busbw >= min_busbw
            checks.append(_check("busbw", ok, busbw, min_busbw, f"average bus bandwidth {busbw} GB/s (minimum {min_busbw} GB/s)"))
    return _verdict(checks)


def _verdict(checks):
    failed = [c for c in checks if not c["passed"] and not c["inconclusive"]]
    inconclusive = [c for c in checks if c["inconclusive"]]
    if failed:
        return {"passed": False, "inconclusive": False, "reason": failed[0]["reason"], "checks": checks}
    if inconclusive:
        return {
            "passed": False,
            "inconclusive": True,
            "reason": "inconclusive: " + inconclusive[0]["reason"],
            "checks": checks,
        }
    return {"passed": True, "inconclusive": False, "reason": "; ".join(c["reason"] for c in checks), "checks": checks}


def latency_at(parsed, size_bytes, placement="out_of_place"):
    """Latency (us) at one message size, for the benchmark baseline; None when the size is absent."""
    row = next((r for r in parsed["rows"] if r["size"] == int(size_bytes)), None)
    return None if row is None else row[placement]["time_us"]
