"""The haproxy_lb role's configuration as rendered from its defaults: the request ring canary_step streams (issue 16)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import jinja2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "haproxy_lb"


def render(**overrides):
    settings = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    settings.update(
        ansible_managed="managed by liveavatar.rollout",
        haproxy_lb_servers=[
            {"name": "gpu-node-3-stable", "address": "127.0.0.1", "port": 8001, "weight": 100},
            {"name": "gpu-node-3-canary", "address": "127.0.0.1", "port": 8002, "weight": 0},
        ],
        **overrides,
    )
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["comment"] = lambda text: f"# {text}"
    return env.from_string((ROLE / "templates" / "haproxy.cfg.j2").read_text()).render(settings)


def section(config, header):
    """The lines of one section, from its header to the next unindented line."""
    lines = config.splitlines()
    start = lines.index(header)
    end = next((i for i in range(start + 1, len(lines)) if lines[i] and not lines[i].startswith((" ", "#"))), len(lines))
    return lines[start + 1 : end]


def test_the_service_frontend_logs_every_request_to_the_ring_canary_step_reads():
    config = render()
    ring = [line.strip() for line in section(config, "ring liveavatar_requests")]
    assert "format raw" in ring and "size 1048576" in ring
    assert "log ring@liveavatar_requests local0 info" in [line.strip() for line in section(config, "frontend liveavatar")]
    assert not any(line.strip().startswith("log ring@") for line in section(config, "frontend prometheus"))


def test_an_empty_ring_name_configures_no_ring():
    config = render(haproxy_lb_request_ring="")
    assert not re.search(r"^ring |log ring@", config, re.MULTILINE)


def test_the_rendered_configuration_is_valid_for_haproxy(tmp_path):
    binary = shutil.which("haproxy")
    if not binary:
        pytest.skip("no haproxy binary on this machine: `haproxy -c` of the rendered config runs where HAProxy is installed (and at provision)")
    for ring in ("liveavatar_requests", ""):
        path = tmp_path / f"haproxy-{ring or 'none'}.cfg"
        path.write_text(render(haproxy_lb_request_ring=ring))
        check = subprocess.run([binary, "-c", "-f", str(path)], capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
