"""daemon.json as several roles share it: parse, merge, render (pure, no Ansible)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils.daemon_config import DaemonConfigError, merge, parse, render, validate_supported

NVIDIA = {"runtimes": {"nvidia": {"path": "nvidia-container-runtime", "runtimeArgs": []}}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, {}),
        ("", {}),
        ("  \n", {}),
        ('{"live-restore": true}', {"live-restore": True}),
    ],
)
def test_parse_reads_one_object_or_nothing(text, expected):
    assert parse(text, "/etc/docker/daemon.json") == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{live-restore: true}", "/etc/docker/daemon.json is not valid JSON"),
        ('["live-restore"]', "holds a JSON list, not an object"),
        ('"x"', "holds a JSON str, not an object"),
        ('{"a": 1} trailing', "is not valid JSON"),
    ],
)
def test_parse_refuses_anything_but_an_object_naming_the_file(text, message):
    with pytest.raises(DaemonConfigError, match=message):
        parse(text, "/etc/docker/daemon.json")


@pytest.mark.parametrize(
    ("current", "settings", "remove", "expected"),
    [
        # Another role's keys stay; this role's replace its old values.
        (NVIDIA, {"live-restore": True}, None, {**NVIDIA, "live-restore": True}),
        ({"log-opts": {"max-size": "10m", "labels": "x"}}, {"log-opts": {"max-size": "50m"}}, None, {"log-opts": {"max-size": "50m", "labels": "x"}}),
        # Lists are values, replaced whole (an insecure registry removed from the inventory leaves the file).
        ({"insecure-registries": ["a:5000", "b:5000"]}, {"insecure-registries": ["a:5000"]}, None, {"insecure-registries": ["a:5000"]}),
        # A nested object over a scalar replaces it.
        ({"runtimes": "broken"}, NVIDIA, None, NVIDIA),
        # default-runtime removed only where it holds the value this role had set.
        ({**NVIDIA, "default-runtime": "nvidia"}, NVIDIA, {"default-runtime": "nvidia"}, NVIDIA),
        ({**NVIDIA, "default-runtime": "runc"}, NVIDIA, {"default-runtime": "nvidia"}, {**NVIDIA, "default-runtime": "runc"}),
        ({}, NVIDIA, {"default-runtime": "nvidia"}, NVIDIA),
        # A key set by settings is never removed by remove_matching.
        ({}, {"default-runtime": "nvidia"}, {"default-runtime": "nvidia"}, {"default-runtime": "nvidia"}),
    ],
)
def test_merge(current, settings, remove, expected):
    before = json.dumps(current, sort_keys=True)
    assert merge(current, settings, remove) == expected
    assert json.dumps(current, sort_keys=True) == before, "merge must not modify the file's object in place"


def test_render_is_sorted_indented_and_ends_with_a_newline():
    assert render({"b": 1, "a": {"d": 2, "c": 3}}) == '{\n  "a": {\n    "c": 3,\n    "d": 2\n  },\n  "b": 1\n}\n'


@pytest.mark.parametrize(
    ("help_text", "supported"),
    [
        (
            "      --userns-remap string                   User/Group setting for user namespaces\n      --validate   Validate daemon configuration and exit\n",
            True,
        ),
        ("Usage:\tdockerd [OPTIONS]\n\nA self-sufficient runtime for containers.\n      --userland-proxy  Use userland proxy\n", False),
        ("", False),
        (None, False),
    ],
)
def test_validate_supported_reads_dockerd_help(help_text, supported):
    assert validate_supported(help_text) is supported
