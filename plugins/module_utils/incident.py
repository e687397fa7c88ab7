# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The incident bundle of an aborted release, as plain data: which kernel lines matter, how long a file may be, and
the redaction that keeps secrets out of everything the bundle holds (no Ansible, no host access).
"""

from __future__ import annotations

import json
import re

REDACTED = "<redacted>"
# Kernel lines an operator reads first after a GPU incident: NVIDIA's Xid errors and the driver's NVRM messages.
_KERNEL_GPU = re.compile(r"\bNVRM\b|\bXid\b|\bnvidia(-uvm|-modeset)?:", re.I)
_SENSITIVE_KEY = r"[A-Za-z0-9_.-]*(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential)[A-Za-z0-9_.-]*"
_RULES = (
    # key=value, key: value, "key": "value" where the key names a secret (env files, YAML, JSON, query strings)
    (re.compile(r"(?P<key>\"?" + _SENSITIVE_KEY + r"\"?\s*[=:]\s*\"?)(?P<value>[^\s\"&,;]+)", re.I), r"\g<key>" + REDACTED),
    # credentials in a URL: scheme://user:password@host
    (re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@", re.I), r"\g<scheme>" + REDACTED + "@"),
    # HTTP authorization headers
    (re.compile(r"(?P<key>\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\g<key>" + REDACTED),
    # PEM private keys, whole
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S), REDACTED),
)
_SECRET_KEY_NAME = re.compile(_SENSITIVE_KEY, re.I)
_FILE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def redact(text, known_secrets=()):
    """text with every secret replaced by <redacted>: the values given, then anything that looks like one."""
    for secret in sorted((s for s in known_secrets if s and len(str(s)) >= 4), key=len, reverse=True):
        text = text.replace(str(secret), REDACTED)
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def names_a_secret(key):
    """Whether an environment key names a secret (the same words redact() looks for)."""
    return bool(_SECRET_KEY_NAME.fullmatch(str(key)))


def kernel_gpu_lines(kernel_log):
    """The kernel log's lines about the GPUs (Xid, NVRM, the nvidia modules), in order."""
    return [line for line in kernel_log.splitlines() if _KERNEL_GPU.search(line)]


def tail(text, max_bytes):
    """The last max_bytes of text (whole lines), with a first line that says how much was cut."""
    data = text.encode("utf-8", errors="replace")
    if len(data) <= max_bytes:
        return text
    kept = data[-max_bytes:].decode("utf-8", errors="replace")
    kept = kept.split("\n", 1)[1] if "\n" in kept else kept
    return f"[incident bundle: the first {len(data) - len(kept.encode('utf-8'))} bytes were cut; the last {max_bytes} kept]\n{kept}"


def file_name(*parts):
    """A bundle file name from parts: one path segment, nothing but letters, digits and '_.-'."""
    name = "-".join(_FILE_NAME.sub("_", str(part)).strip("_.") for part in parts if str(part))
    return name or "unnamed"


def bundle_files(hosts, controller_files, host_field="host"):
    """{relative path: redacted text} of a bundle: <host>/<file> and <host>/missing.json per host (an unreachable host's
    reason goes there), then the controller's files."""
    out = {}
    for entry in hosts:
        host = file_name(entry.get(host_field) or "unknown-host")
        for name, text in (entry.get("files") or {}).items():
            out[f"{host}/{file_name(name)}"] = redact(str(text))
        missing = list(entry.get("missing") or [])
        if entry.get("unreachable") or (entry.get("failed") and not entry.get("files")):
            missing.append(f"host not read: {entry.get('msg') or 'unreachable'}")
        out[f"{host}/missing.json"] = redact(json.dumps(missing, indent=2) + "\n")
    for name, text in controller_files.items():
        out[file_name(name)] = redact(str(text))
    return out
