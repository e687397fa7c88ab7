"""Logging in Live Avatar's line format: [LEVEL] YYYY-MM-DD HH:MM:SS file.py:line - message."""

from __future__ import annotations

import logging
import sys


class _LiveAvatarFormatter(logging.Formatter):
    def format(self, record):
        stamp = self.formatTime(record, "%Y-%m-%d %H:%M:%S")
        return f"[{record.levelname}] {stamp} {record.filename}:{record.lineno} - {record.getMessage()}"


def setup(level=logging.INFO, stream=None):
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_LiveAvatarFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    return root
