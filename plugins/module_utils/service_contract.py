# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the release knows about the service, as data (issue 15 item 1, groundwork): upstream Live Avatar's defaults,
a release's overrides from its release-config `service.yml`, and the checks that refuse a contract in one line.

Upstream (Alibaba-Quark/LiveAvatar) is launched by torchrun scripts at its repository root; it has no /health, no
Prometheus metrics and writes no clip manifest. So by default readiness is "the Gradio app answers and lists its
generate endpoint", the CLI run's output is one .mp4 under --save_dir, and the judge's metrics come from the load
balancer and the GPU exporter. A metric is a template (name, source, query, direction, one tolerance, critical, weight) in
the manner of Argo Rollouts' AnalysisTemplate; its PromQL names `$selector`, where the judge puts each track's label
matchers (the track's LB servers, or its slots' GPUs). An operator's wrapper that adds a health URL, /metrics or manifests says so here.
"""

from __future__ import annotations

import copy
import re

MODES = ("single_gpu", "multi_gpu")
STAGES = ("stage1", "stage2", "serving")
DIRECTIONS = ("lower_is_better", "higher_is_better")
METRIC_SOURCES = ("lb", "gpu", "service")
_SCRIPT = re.compile(r"[A-Za-z0-9_.-]+\.sh")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")

UPSTREAM = {
    # The scripts upstream ships, per mode: the CLI (s2v_streaming_interact.py) and the Gradio app (gradio_app.py).
    "modes": {
        "single_gpu": {"cli_script": "infinite_inference_single_gpu.sh", "gradio_script": "gradio_single_gpu.sh", "gpus": 1, "offload_model": True},
        "multi_gpu": {"cli_script": "infinite_inference_multi_gpu.sh", "gradio_script": "gradio_multi_gpu.sh", "gpus": 5, "offload_model": False},
    },
    # Which mode each stage runs: stage 1 one node, stage 2 the multi-GPU set, serving what the LB sends traffic to.
    "stages": {"stage1": "single_gpu", "stage2": "multi_gpu", "serving": "single_gpu"},
    "readiness": {"gradio_port": 7860, "gradio_api": "/generate", "health_url": "", "timeout_s": 60},
    "cli_smoke": {"num_clip": 10, "infer_frames": 48, "size": "704*384", "sample_steps": 4, "save_dir": "output", "manifest": "collection"},
    "gradio_flow": {"inputs": ["prompt", "image", "audio", "num_clip", "sample_steps", "guide_scale", "infer_frames", "size", "seed", "sampler"]},
    "boundary": {"size": "704*384", "audio_seconds": 30, "infer_frames": 48},
    # 24 GB functional checks run single-GPU with CPU offload (seed section 6); the release's own GPUs need not be 80 GB.
    "functional_offload": True,
    "metrics": [
        {
            "name": "lb_response_time",
            "source": "lb",
            "query": "avg(haproxy_server_response_time_average_seconds{$selector})",
            "direction": "lower_is_better",
            "tolerance_pct": 50,
            "critical": True,
            "weight": 1.0,
        },
        {
            "name": "lb_5xx_rate",
            "source": "lb",
            "query": 'sum(rate(haproxy_server_http_responses_total{code="5xx",$selector}[1m]))',
            "direction": "lower_is_better",
            "tolerance_abs": 0.01,
            "critical": True,
            "weight": 1.0,
        },
        {
            "name": "lb_connection_errors",
            "source": "lb",
            "query": "sum(rate(haproxy_server_connection_errors_total{$selector}[1m]))",
            "direction": "lower_is_better",
            "tolerance_abs": 0.01,
            "critical": True,
            "weight": 1.0,
        },
        {
            "name": "gpu_memory_used",
            "source": "gpu",
            "query": "max(DCGM_FI_DEV_FB_USED{$selector})",
            "direction": "lower_is_better",
            "tolerance_pct": 3,
            "critical": False,
            "weight": 0.5,
        },
    ],
}


class ContractError(ValueError):
    """A contract the release cannot use; the message names the key and what is wrong, in one line."""


def _merge(base, override, path):
    if not isinstance(override, dict):
        raise ContractError(f"{path or 'the contract'} must be a mapping, not {type(override).__name__}")
    merged = copy.deepcopy(base)
    for key, value in override.items():
        where = f"{path}.{key}" if path else key
        if key not in base:
            raise ContractError(f"{where} is not a contract key (known: {', '.join(sorted(base))})")
        if key == "modes":
            merged[key] = _merge_modes(base[key], value, where)
        elif isinstance(base[key], dict):
            merged[key] = _merge(base[key], value, where)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _merge_modes(base, override, path):
    if not isinstance(override, dict):
        raise ContractError(f"{path} must be a mapping of modes")
    merged = copy.deepcopy(base)
    for mode, fields in override.items():
        if mode not in MODES:
            raise ContractError(f"{path}.{mode} is not a stage mode (modes: {', '.join(MODES)})")
        merged[mode] = _merge(base[mode], fields, f"{path}.{mode}")
    return merged


def _check_metric(index, metric, optional_sources):
    where = f"metrics[{index}]"
    if not isinstance(metric, dict):
        raise ContractError(f"{where} must be a mapping (name, source, query, direction, tolerance, critical, weight)")
    name = metric.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ContractError(f"{where} needs a name of lower-case letters, digits and '_' ({name!r})")
    where = f"metric {name}"
    if not isinstance(metric.get("query"), str) or not metric["query"].strip():
        raise ContractError(f"{where} has no query")
    if "$selector" not in metric["query"]:
        raise ContractError(f"{where}: the query names no $selector, so canary and stable would read the same series")
    if metric.get("source") not in METRIC_SOURCES:
        raise ContractError(f"{where}: source {metric.get('source')!r} must be one of {', '.join(METRIC_SOURCES)}")
    if metric["source"] in optional_sources:
        raise ContractError(f"{where} reads the service's own metrics, and the contract says the service exports none (service_metrics: false)")
    if metric.get("direction") not in DIRECTIONS:
        raise ContractError(f"{where}: direction {metric.get('direction')!r} must be one of {', '.join(DIRECTIONS)}")
    tolerances = [key for key in ("tolerance_pct", "tolerance_abs") if key in metric]
    if len(tolerances) != 1:
        raise ContractError(f"{where} needs exactly one of tolerance_pct and tolerance_abs")
    value = metric[tolerances[0]]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ContractError(f"{where}: {tolerances[0]} {value!r} must be a number of 0 or more")
    if not isinstance(metric.get("critical", False), bool):
        raise ContractError(f"{where}: critical must be true or false")
    weight = metric.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight <= 10:
        raise ContractError(f"{where}: weight {weight!r} must be above 0 and at most 10")


def resolve(overrides=None, service_metrics=False):
    """The release's contract: upstream's defaults with the overrides applied, checked; raises ContractError.

    Metrics are replaced as a whole list when the overrides name `metrics`, extended with `extra_metrics`.
    service_metrics says whether the service exports metrics of its own (an operator's wrapper).
    """
    overrides = dict(overrides or {})
    extra = overrides.pop("extra_metrics", [])
    contract = _merge(UPSTREAM, overrides, "")
    if not isinstance(extra, list):
        raise ContractError("extra_metrics must be a list of metric templates")
    contract["metrics"] = list(contract["metrics"]) + list(extra)
    for mode, fields in contract["modes"].items():
        for key in ("cli_script", "gradio_script"):
            script = fields.get(key)
            if not isinstance(script, str) or not _SCRIPT.fullmatch(script):
                raise ContractError(f"modes.{mode}.{key} {script!r} is not a launch script name (a file name ending in .sh)")
        if isinstance(fields.get("gpus"), bool) or not isinstance(fields.get("gpus"), int) or fields["gpus"] < 1:
            raise ContractError(f"modes.{mode}.gpus {fields.get('gpus')!r} must be a whole number of 1 or more")
    for stage in STAGES:
        if contract["stages"].get(stage) not in MODES:
            raise ContractError(f"stages.{stage} {contract['stages'].get(stage)!r} is not a stage mode (modes: {', '.join(MODES)})")
    health = contract["readiness"]["health_url"]
    if health and not re.fullmatch(r"/[A-Za-z0-9_./-]*", str(health)):
        raise ContractError(f"readiness.health_url {health!r} must be a path on the instance, e.g. /health, or empty")
    if contract["cli_smoke"]["manifest"] not in ("collection", "service"):
        raise ContractError(f"cli_smoke.manifest {contract['cli_smoke']['manifest']!r} must be 'collection' (written from the output) or 'service'")
    for section in ("cli_smoke", "boundary"):
        if not re.fullmatch(r"[1-9][0-9]{1,4}\*[1-9][0-9]{1,4}", str(contract[section]["size"])):
            raise ContractError(f"{section}.size {contract[section]['size']!r} must be WIDTH*HEIGHT, as upstream's --size")
    names = set()
    for index, metric in enumerate(contract["metrics"]):
        _check_metric(index, metric, () if service_metrics else ("service",))
        if metric["name"] in names:
            raise ContractError(f"metric {metric['name']} is defined twice")
        names.add(metric["name"])
    return contract


def launch_script(contract, stage, entry="cli"):
    """The script a stage runs for its CLI or Gradio entry."""
    mode = contract["stages"][stage]
    return contract["modes"][mode][f"{entry}_script"]
