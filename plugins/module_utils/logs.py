# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Count OOM, NCCL and decode errors in service logs; parse Live Avatar's log line format."""

from __future__ import annotations

import re

DEFAULT_PATTERNS = {
    "oom": r"CUDA out of memory|OutOfMemoryError|CUDA error: out of memory|cudaErrorMemoryAllocation",
    "nccl": r"NCCL WARN|NCCL ERROR|NCCL failure|ProcessGroupNCCL.*(?:[Ww]atchdog|[Tt]imeout|[Ee]xception)"
    r"|unhandled (?:cuda|system) error|ncclSystemError|ncclInternalError",
    "decode": r"[Dd]ecode (?:error|failed)|Error while decoding|Invalid data found when processing input"
    r"|moov atom not found|VAE decode",
}
# [LEVEL] YYYY-MM-DD HH:MM:SS file.py:line - message
LINE_RE = re.compile(
    r"^\[(?P<level>[A-Z]+)\]\s+(?P<date>\d{4}-\d{2}-\d{2})\s+(?P<time>\d{2}:\d{2}:\d{2}(?:[.,]\d+)?)\s+"
    r"(?P<file>[\w./-]+):(?P<line>\d+)\s+-\s+(?P<message>.*)$"
)
# Levels whose message is classified as an error type.
ERROR_LEVELS = ("ERROR", "CRITICAL", "FATAL")
_GPU_RE = re.compile(r"\bGPU (\d+)\b")
_SIZE_RE = re.compile(r"\bsize=([\d.]+\s*[KMGT]i?B)\b")


class LogTriageError(ValueError):
    """A pattern that does not compile or a threshold that cannot be used."""


def _with_message_fields(fields, gpu_pattern, size_pattern, error_patterns, error_levels=ERROR_LEVELS):
    """The split line's fields plus what its message says: gpu, size and, on error levels, error_type."""
    fields["line"] = int(fields["line"])
    gpu = re.search(gpu_pattern, fields["message"])
    size = re.search(size_pattern, fields["message"])
    fields["gpu"] = int(gpu.group(1)) if gpu else None
    fields["size"] = size.group(1) if size else None
    fields["error_type"] = classify(fields["message"], error_patterns) if fields["level"] in error_levels else None
    return fields


def parse_line(line):
    """Fields of one Live Avatar log line (level, date, time, file, line, message, gpu, size, error_type), or None."""
    match = LINE_RE.match(line.rstrip("\n"))
    return _with_message_fields(match.groupdict(), _GPU_RE, _SIZE_RE, DEFAULT_PATTERNS) if match else None


def _compiled(patterns):
    compiled = {}
    for name, pattern in patterns.items():
        try:
            compiled[name] = re.compile(pattern)
        except re.error as exc:
            raise LogTriageError(f"pattern {name!r} does not compile: {exc}") from exc
    return compiled


def classify(message, patterns=None):
    for name, regex in _compiled(patterns or DEFAULT_PATTERNS).items():
        if regex.search(message):
            return name
    return None


def triage(lines, extra_patterns=None, max_counts=None):
    """Count lines matching each pattern; quote the first occurrence; gate on max_counts (default 0 each)."""
    patterns = dict(DEFAULT_PATTERNS)
    patterns.update(extra_patterns or {})
    compiled = _compiled(patterns)
    limits = {name: 0 for name in patterns}
    for name, limit in (max_counts or {}).items():
        if name not in patterns:
            raise LogTriageError(f"max_counts names {name!r}, which is not a pattern ({', '.join(patterns)})")
        if isinstance(limit, str) and limit.isdigit():
            limit = int(limit)  # values templated by Jinja arrive as strings
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise LogTriageError(f"max_counts[{name}] must be an integer >= 0")
        limits[name] = limit
    counts = {name: 0 for name in patterns}
    first = {name: None for name in patterns}
    total = 0
    for number, line in enumerate(lines, start=1):
        total += 1
        for name, regex in compiled.items():
            if regex.search(line):
                counts[name] += 1
                if first[name] is None:
                    first[name] = {"line": number, "text": line.rstrip("\n")[:500]}
    over = [n for n in patterns if counts[n] > limits[n]]
    if over:
        reason = "; ".join(f"{n}: {counts[n]} (max {limits[n]}), first at line {first[n]['line']}: {first[n]['text']}" for n in over)
    else:
        reason = f"no error count over its limit in {total} lines"
    return {"passed": not over, "reason": reason, "counts": counts, "first": first, "limits": limits, "lines": total}


_NAMED_GROUP_RE = re.compile(r"\(\?P<(\w+)>")


def shipper_patterns(patterns=None):
    """The line format, GPU, size and error patterns as sources without named groups (JavaScript and Python read them alike).

    Filebeat's script processor (ECMAScript 5.1) has no named groups, so the line's fields come back by position:
    `line_fields` lists them in group order.
    """
    return {
        "line": _NAMED_GROUP_RE.sub("(", LINE_RE.pattern),
        "line_fields": _NAMED_GROUP_RE.findall(LINE_RE.pattern),
        "gpu": _GPU_RE.pattern,
        "size": _SIZE_RE.pattern,
        "errors": dict(patterns or DEFAULT_PATTERNS),
        "error_levels": list(ERROR_LEVELS),
    }


def parse_line_positional(line, patterns):
    """parse_line as the shipper's script does it, from shipper_patterns() sources: the pair is tested to agree."""
    match = re.match(patterns["line"], line.rstrip("\n"))
    if not match:
        return None
    fields = dict(zip(patterns["line_fields"], match.groups()))  # noqa: B905 - zip(strict=) needs Python 3.10; targets may run 3.8
    return _with_message_fields(fields, patterns["gpu"], patterns["size"], patterns["errors"], patterns["error_levels"])
