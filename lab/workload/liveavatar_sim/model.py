"""The model's simulated GPU footprint: weights per component, activations by resolution and frames."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from .gpu import GIB

log = logging.getLogger("load_model")

# Resident weights in GB (bf16): the 14B DiT and its encoders.
COMPONENTS_GB = {"dit": 28.0, "t5_encoder": 11.4, "audio_encoder": 1.3, "vae": 0.5, "lora": 0.6}
# Components that --offload_model=True keeps in host memory.
OFFLOADABLE = ("t5_encoder", "audio_encoder")
# Activation memory of one clip at 704x384 and 48 frames, per activation copy.
ACTIVATION_GB_REFERENCE = 9.0
REFERENCE_PIXELS_FRAMES = 704 * 384 * 48
SIZES = {"704*384": (704, 384), "720*400": (720, 400), "688*368": (688, 368)}
VERSIONS_DIR = Path(os.environ.get("LIVEAVATAR_VERSIONS_DIR", Path(__file__).resolve().parent.parent / "versions"))


def version_profile(version):
    path = VERSIONS_DIR / f"{version}.json"
    if not path.is_file():
        raise ValueError(f"unknown version {version}: no {path}")
    return json.loads(path.read_text())


def activation_bytes(width, height, frames, profile, num_gpus=1):
    per_copy = ACTIVATION_GB_REFERENCE * (width * height * frames) / REFERENCE_PIXELS_FRAMES
    return per_copy * profile["activation_copies"] * GIB / num_gpus


def decode_buffer_bytes(width, height, total_frames, online_decode):
    """Without online decode every decoded frame waits in GPU memory until the end (fp32 RGB)."""
    return 0 if online_decode else width * height * 3 * 4 * total_frames


def placement(num_gpus, offload_model):
    """Which GPU holds which weights: the DiT sharded over all GPUs, encoders on GPU 0, the VAE on the last."""
    plan = [{} for _gpu in range(num_gpus)]
    for gpu in range(num_gpus):
        plan[gpu]["dit_shard"] = COMPONENTS_GB["dit"] / num_gpus + COMPONENTS_GB["lora"] / num_gpus
    for name in ("t5_encoder", "audio_encoder"):
        if not offload_model:
            plan[0][name] = COMPONENTS_GB[name]
    plan[-1]["vae"] = COMPONENTS_GB["vae"]
    return plan


def load(pool, num_gpus, offload_model, load_seconds=None):
    """Allocate the weights on the simulated GPUs; CudaOutOfMemoryError when a GPU cannot hold them."""
    ckpt = os.environ.get("MODEL_CKPT_DIR", "ckpt/Wan2.2-S2V-14B")
    log.info("Loading checkpoint from %s (offload_model=%s, %d GPU(s), simulated)", ckpt, offload_model, num_gpus)
    started = time.monotonic()
    for gpu, parts in enumerate(placement(num_gpus, offload_model)):
        for name, size_gb in parts.items():
            pool.allocate(gpu, f"weights:{name}", size_gb * GIB)
            log.info("Model shard loaded on GPU %d, size=%.2fGB", gpu, size_gb)
    # Reading a 14B checkpoint from disk takes time that is not compute: the lab sets how long.
    remaining = float(load_seconds if load_seconds is not None else os.environ.get("MODEL_LOAD_SECONDS", "3")) - (time.monotonic() - started)
    if remaining > 0:
        time.sleep(remaining)
    return time.monotonic() - started
