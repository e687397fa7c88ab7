"""The service contract as data (issue 15 item 1, groundwork): upstream's defaults, overrides, one-line refusals."""

from __future__ import annotations

import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils import service_contract as sc


def test_upstreams_defaults_need_no_health_url_no_service_metrics_and_no_manifest():
    contract = sc.resolve()
    assert contract["readiness"] == {"gradio_port": 7860, "gradio_api": "/generate", "health_url": "", "timeout_s": 60}
    assert {m["source"] for m in contract["metrics"]} == {"lb", "gpu"}
    assert contract["cli_smoke"]["manifest"] == "collection"
    assert sc.launch_script(contract, "stage1") == "infinite_inference_single_gpu.sh"
    assert sc.launch_script(contract, "stage2") == "infinite_inference_multi_gpu.sh"
    assert sc.launch_script(contract, "serving", "gradio") == "gradio_single_gpu.sh"


def test_a_release_overrides_a_script_a_mode_and_adds_a_metric_without_losing_the_defaults():
    contract = sc.resolve(
        {
            "modes": {"multi_gpu": {"cli_script": "run_4gpu_tpp.sh", "gpus": 4}},
            "stages": {"serving": "multi_gpu"},
            "readiness": {"health_url": "/health"},
            "extra_metrics": [
                {"name": "clip_seconds", "source": "service", "query": "avg(clip_seconds{$selector})", "direction": "lower_is_better", "tolerance_pct": 10}
            ],
        },
        service_metrics=True,
    )
    assert contract["modes"]["multi_gpu"] == {"cli_script": "run_4gpu_tpp.sh", "gradio_script": "gradio_multi_gpu.sh", "gpus": 4, "offload_model": False}
    assert sc.launch_script(contract, "serving", "gradio") == "gradio_multi_gpu.sh"
    assert contract["readiness"]["gradio_port"] == 7860 and contract["readiness"]["health_url"] == "/health"
    assert [m["name"] for m in contract["metrics"]][-1] == "clip_seconds" and len(contract["metrics"]) == len(sc.UPSTREAM["metrics"]) + 1
    assert sc.UPSTREAM["modes"]["multi_gpu"]["cli_script"] == "infinite_inference_multi_gpu.sh", "the defaults are never changed in place"


GOOD_METRIC = {"name": "p95", "source": "lb", "query": "max(x{$selector})", "direction": "lower_is_better", "tolerance_pct": 10}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"modes": {"single_gpu": {"cli_script": ""}}}, "modes.single_gpu.cli_script '' is not a launch script name"),
        ({"modes": {"single_gpu": {"gradio_script": "../gradio.sh"}}}, "modes.single_gpu.gradio_script '../gradio.sh' is not a launch script name"),
        ({"modes": {"eight_gpu": {"gpus": 8}}}, "modes.eight_gpu is not a stage mode (modes: single_gpu, multi_gpu)"),
        ({"modes": {"multi_gpu": {"gpus": 0}}}, "modes.multi_gpu.gpus 0 must be a whole number"),
        ({"stages": {"stage2": "tpp"}}, "stages.stage2 'tpp' is not a stage mode"),
        ({"stages": {"stage4": "single_gpu"}}, "stages.stage4 is not a contract key"),
        ({"readyness": {}}, "readyness is not a contract key"),
        ({"readiness": "gradio"}, "readiness must be a mapping"),
        ({"readiness": {"health_url": "http://x/health"}}, "readiness.health_url 'http://x/health' must be a path"),
        ({"cli_smoke": {"size": "704x384"}}, "cli_smoke.size '704x384' must be WIDTH*HEIGHT"),
        ({"cli_smoke": {"manifest": "none"}}, "cli_smoke.manifest 'none' must be 'collection'"),
        ({"extra_metrics": [{**GOOD_METRIC, "query": ""}]}, "metric p95 has no query"),
        ({"extra_metrics": [{k: v for k, v in GOOD_METRIC.items() if k != "query"}]}, "metric p95 has no query"),
        ({"extra_metrics": [{**GOOD_METRIC, "query": "max(x)"}]}, "metric p95: the query names no $selector"),
        ({"extra_metrics": [{**GOOD_METRIC, "source": "prometheus"}]}, "metric p95: source 'prometheus' must be one of lb, gpu, service"),
        (
            {"extra_metrics": [{**GOOD_METRIC, "source": "service"}]},
            "metric p95 reads the service's own metrics, and the contract says the service exports none",
        ),
        ({"extra_metrics": [{**GOOD_METRIC, "direction": "up"}]}, "metric p95: direction 'up' must be one of"),
        ({"extra_metrics": [{**GOOD_METRIC, "tolerance_abs": 1}]}, "metric p95 needs exactly one of tolerance_pct and tolerance_abs"),
        ({"extra_metrics": [{**GOOD_METRIC, "tolerance_pct": -5}]}, "metric p95: tolerance_pct -5 must be a number of 0 or more"),
        ({"extra_metrics": [{**GOOD_METRIC, "weight": 0}]}, "metric p95: weight 0 must be above 0"),
        ({"extra_metrics": [{**GOOD_METRIC, "critical": "yes"}]}, "metric p95: critical must be true or false"),
        ({"extra_metrics": [GOOD_METRIC, GOOD_METRIC]}, "metric p95 is defined twice"),
        ({"extra_metrics": [{**GOOD_METRIC, "name": "P95 latency"}]}, "metrics[4] needs a name of lower-case letters"),
        ({"extra_metrics": {"p95": GOOD_METRIC}}, "extra_metrics must be a list"),
    ],
)
def test_a_contract_the_release_cannot_use_is_refused_in_one_line(overrides, message):
    with pytest.raises(sc.ContractError) as refused:
        sc.resolve(overrides)
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)
