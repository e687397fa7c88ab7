"""House-style checks every role must pass: argument specs match defaults, main.yml is an index."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p for p in (ROOT / "roles").iterdir() if p.is_dir())


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_argument_specs_match_defaults(role):
    defaults = yaml.safe_load((role / "defaults/main.yml").read_text()) or {}
    spec = yaml.safe_load((role / "meta/argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert set(spec) == set(defaults), f"{role.name}: spec-only {set(spec) - set(defaults)}, defaults-only {set(defaults) - set(spec)}"
    for name, option in spec.items():
        assert name.startswith(role.name + "_"), f"{name} lacks the role prefix"
        assert option.get("description"), f"{name} has no description"
        assert option.get("default") == defaults[name], f"{name}: spec default {option.get('default')!r} != {defaults[name]!r}"


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_main_is_an_index_of_imports_and_role_has_readme(role):
    tasks = yaml.safe_load((role / "tasks/main.yml").read_text())
    assert all(set(t) == {"name", "ansible.builtin.import_tasks"} for t in tasks)
    assert [t["ansible.builtin.import_tasks"] for t in tasks][:1] == ["preflight.yml"]
    assert (role / "README.md").is_file(), f"{role.name} has no README.md"


def test_make_test_runs_every_molecule_scenario():
    scenarios = {p.parent.name for p in (ROOT / "extensions/molecule").glob("*/molecule.yml")}
    listed = next(line for line in (ROOT / "Makefile").read_text().splitlines() if line.startswith("MOLECULE_SCENARIOS :="))
    assert set(listed.split(":=", 1)[1].split()) == scenarios
