"""Telegraf, Grafana and Filebeat from mirrors: pins, keys, and configurations that parse and say what they should."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
sys.path.insert(0, str(RESOURCES))
from role_checks import PROJECT, assert_refused  # noqa: E402

sys.path.insert(0, str(PROJECT / ".collections"))
from ansible_collections.liveavatar.rollout.plugins.module_utils.logs import shipper_patterns  # noqa: E402

WATCHED = ["/etc/apt/sources.list.d", "/etc/apt/preferences.d", "/etc/telegraf", "/etc/filebeat", "/etc/grafana"]


@pytest.mark.parametrize(
    ("package", "pinned", "newer"), [("telegraf", "1.34.4-1", "1.35.0-1"), ("grafana", "12.0.2", "12.1.0"), ("filebeat", "8.18.3", "8.19.0")]
)
def test_each_agent_is_held_at_its_pinned_version(host, package, pinned, newer):
    assert host.package(package).version == pinned
    assert f"{newer} 500" in host.check_output(f"apt-cache policy {package}")


def test_telegraf_conf_is_toml_with_the_inputs_and_outputs(host):
    conf = tomllib.loads(host.file("/etc/telegraf/telegraf.conf").content_string)
    assert {"nvidia_smi", "docker", "procstat", "cpu", "mem", "disk", "system"} <= set(conf["inputs"])
    assert conf["inputs"]["docker"][0]["docker_label_include"] == ["io.liveavatar.version", "io.liveavatar.track"]
    assert conf["outputs"]["prometheus_client"][0]["listen"] == "127.0.0.1:9273"
    assert conf["outputs"]["influxdb"][0]["urls"] == ["http://influxdb.example.invalid:8086"]


def test_grafana_provisions_both_datasources_and_three_dashboards(host):
    datasources = yaml.safe_load(host.file("/etc/grafana/provisioning/datasources/liveavatar.yml").content_string)["datasources"]
    assert [d["uid"] for d in datasources] == ["liveavatar-prometheus", "liveavatar-logs"]
    provider = yaml.safe_load(host.file("/etc/grafana/provisioning/dashboards/liveavatar.yml").content_string)["providers"][0]
    directory = provider["options"]["path"]
    uids = sorted(json.loads(host.file(f"{directory}/{name}").content_string)["uid"] for name in host.file(directory).listdir())
    assert uids == ["liveavatar-gpu", "liveavatar-inference", "liveavatar-rollout"]


def test_filebeat_ships_with_logtriages_patterns_and_keeps_the_password_private(host):
    config_file = host.file("/etc/filebeat/filebeat.yml")
    assert config_file.mode == 0o600 and config_file.user == "root"
    config = yaml.safe_load(config_file.content_string)
    script = next(p["script"]["source"] for p in config["processors"] if "script" in p)
    assert f"var LINE = new RegExp({json.dumps(shipper_patterns()['line'])});" in script
    assert config["output.elasticsearch"]["hosts"] == ["https://elasticsearch.example.invalid:9200"]
    assert config["output.elasticsearch"]["password"] == "molecule-not-a-secret"


def test_filebeat_without_elasticsearch_is_refused(host):
    assert_refused(host, "log_shipper", {"log_shipper_elasticsearch_hosts": []}, "set log_shipper_elasticsearch_hosts", WATCHED)


def test_telegraf_version_the_mirror_lacks_is_refused(host):
    assert_refused(
        host,
        "telegraf",
        {"telegraf_version": "9.9.9-1"},
        "version 9.9.9-1 is not offered by http://127.0.0.1:8089/influxdata (offered: 1.34.4-1, 1.35.0-1)",
        WATCHED,
    )


def test_the_internal_vendor_apt_role_refuses_to_run_on_its_own(host):
    """vendor_apt holds the repository + key + pin + install the agents share; only a role that includes it owns the values."""
    assert_refused(host, "vendor_apt", {"vendor_apt_packages": ["telegraf"]}, "vendor_apt: internal role; use the role that includes it", WATCHED)
