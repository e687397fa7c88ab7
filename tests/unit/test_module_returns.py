"""Module return keys that Ansible itself interprets: one of them silently changes how a task is judged."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
import yaml

from ansible_collections.liveavatar.rollout.plugins import modules

# A result carrying 'skipped' makes Ansible ignore changed_when/failed_when; 'results' is read as a loop's items.
RESERVED = {"skipped", "failed", "unreachable", "results", "invocation", "_ansible_no_log"}

MODULE_NAMES = sorted(info.name for info in pkgutil.iter_modules(modules.__path__))


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_no_module_returns_a_key_ansible_interprets(name):
    module = importlib.import_module(f"{modules.__name__}.{name}")
    documented = yaml.safe_load(module.RETURN) or {}
    assert not RESERVED & set(documented), f"{name} documents reserved return key(s) {sorted(RESERVED & set(documented))}"
