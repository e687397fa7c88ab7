"""Shared helpers: real fixtures (skipped with a reason where ../shared is absent) and running a module's main()."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible.module_utils.testing import patch_module_args

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "real"


def real_fixture(name):
    path = REAL / name
    if not path.is_file():
        pytest.skip(f"real fixture {name} needs ../shared/fixtures/real beside the clone (absent here)")
    return path.read_text()


def run_module(main, args, capsys, check_mode=False):
    """Run a module's real main() with args; return (result dict, exit code)."""
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        main()
    out = capsys.readouterr().out
    return json.loads(out), exit_info.value.code
