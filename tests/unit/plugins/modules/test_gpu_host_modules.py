"""The GPU-host modules' real main(): apt_index_query, nvidia_driver_state, gpu_isolation_settings."""

from __future__ import annotations

import gzip
import http.server
import threading

import pytest

from ansible_collections.liveavatar.rollout.plugins.modules import apt_index_query, gpu_isolation_settings, nvidia_driver_state

from helpers import run_module

INDEX = b"Package: cuda-drivers\nVersion: 550.127.05-1\n\nPackage: cuda-drivers\nVersion: 560.35.03-1\n"


@pytest.fixture(name="mirror")
def fixture_mirror():
    """A loopback HTTP mirror serving one gzip index; any other path is a 404."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            if self.path == "/repo/Packages.gz":
                body = gzip.compress(INDEX)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_error(404)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("check_mode", [False, True])
def test_apt_index_query_reads_a_mirror_and_reports_an_unreadable_index(capsys, mirror, check_mode):
    args = {"index_urls": [f"{mirror}/repo/Packages.gz", f"{mirror}/repo/missing/Packages.xz"], "packages": ["cuda-drivers", "nvidia-smi"]}
    result, code = run_module(apt_index_query.main, args, capsys, check_mode=check_mode)
    assert code == 0 and result["changed"] is False
    assert result["versions"] == {"cuda-drivers": ["550.127.05-1", "560.35.03-1"], "nvidia-smi": []}
    assert result["branches"]["cuda-drivers"] == ["550", "560"]
    assert result["unreadable"] == [f"{mirror}/repo/missing/Packages.xz: HTTP Error 404: Not Found"]


def test_apt_index_query_fails_with_the_url_when_no_index_is_read(capsys, mirror):
    result, code = run_module(apt_index_query.main, {"index_urls": [f"{mirror}/nope/Packages"], "packages": ["x"]}, capsys)
    assert code == 1
    assert result["msg"].startswith(f"apt_index_query: no package index could be read ({mirror}/nope/Packages: HTTP Error 404")


def make_sysfs(root, devices, loaded=None, nouveau=False):
    for number, (vendor, pci_class) in enumerate(devices):
        device = root / "bus/pci/devices" / f"0000:0{number}:00.0"
        device.mkdir(parents=True)
        (device / "vendor").write_text(vendor + "\n")
        (device / "class").write_text(pci_class + "\n")
    (root / "module").mkdir(exist_ok=True)
    if loaded:
        (root / "module/nvidia").mkdir()
        (root / "module/nvidia/version").write_text(loaded + "\n")
    if nouveau:
        (root / "module/nouveau").mkdir()


def test_nvidia_driver_state_on_a_host_with_two_gpus_and_nouveau(capsys, tmp_path):
    make_sysfs(tmp_path, [("0x10de", "0x030200"), ("0x10de", "0x030200"), ("0x10de", "0x040300")], nouveau=True)
    result, code = run_module(nvidia_driver_state.main, {"package": "liveavatar-no-such-package", "sys_dir": str(tmp_path)}, capsys, check_mode=True)
    assert code == 0 and result["changed"] is False
    assert (result["pci_gpus"], result["installed_version"], result["loaded_version"], result["nouveau_loaded"]) == (2, None, None, True)
    # No driver package installed yet: nothing to reboot for.
    assert result["reboot_reason"] is None


def test_nvidia_driver_state_reads_an_installed_package_against_the_loaded_module(capsys, tmp_path):
    make_sysfs(tmp_path, [], loaded="0.0.0")
    # dpkg itself is installed on every Debian host, and so is on this controller.
    result, code = run_module(nvidia_driver_state.main, {"package": "dpkg", "sys_dir": str(tmp_path)}, capsys)
    assert code == 0
    assert result["installed_version"] and result["loaded_version"] == "0.0.0"
    assert result["reboot_reason"].startswith("the loaded nvidia module is 0.0.0, the installed driver is ")


def test_gpu_isolation_settings_fails_with_one_line_before_any_change(capsys):
    args = {"gpu_devices": [0, 1, 2, 3, 4], "gpu_count": 4, "host_cpus": 8, "host_memory_mb": 64000}
    result, code = run_module(gpu_isolation_settings.main, args, capsys)
    assert code == 1
    assert result["msg"] == "gpu_isolation: GPU index 4 is beyond this host's 4 GPUs (valid: 0-3); nothing was changed"


def test_gpu_isolation_settings_returns_the_container_settings(capsys):
    args = {"gpu_devices": [0, 1], "gpu_count": 4, "host_cpus": 8, "host_memory_mb": 64000, "gpu_memory_cap_gb": 20, "pids_limit": 4096}
    result, code = run_module(gpu_isolation_settings.main, args, capsys, check_mode=True)
    assert code == 0 and result["changed"] is False
    assert result["settings"]["env"]["CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"] == "0=20G,1=20G"
    assert result["settings"]["pids_limit"] == 4096
