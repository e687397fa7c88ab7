"""Prometheus metrics of the service (labels: version, track=stable|canary)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ERROR_TYPES = ("oom", "nccl", "decode")
INFERENCE_SECONDS = Histogram(
    "inference_duration_seconds",
    "Wall time of one inference request",
    ["version", "track", "kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
CLIPS = Counter("clips_generated_total", "Clips generated and written", ["version", "track"])
ERRORS = Counter("inference_errors_total", "Inference errors by type", ["version", "track", "type"])
GPU_USED = Gauge("gpu_memory_used_bytes", "Simulated GPU memory in use", ["version", "track", "gpu"])
GPU_TOTAL = Gauge("gpu_memory_total_bytes", "Simulated GPU memory capacity (or its cap)", ["version", "track", "gpu"])
READY = Gauge("model_ready", "1 once the model is loaded", ["version", "track"])
LOAD_SECONDS = Gauge("model_load_seconds", "Time the model load took", ["version", "track"])


def register_labels(version, track):
    """Create every error series at 0, so a rate() over them exists before the first error."""
    for kind in ERROR_TYPES:
        ERRORS.labels(version, track, kind)
    READY.labels(version, track).set(0)


def export_gpus(pool, version, track):
    for gpu in pool.gpus:
        GPU_USED.labels(version, track, str(gpu.index)).set(gpu.used)
        GPU_TOTAL.labels(version, track, str(gpu.index)).set(gpu.limit)
