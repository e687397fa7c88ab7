"""Command line with Live Avatar's flags and environment (INFER_RES, SAMPLE_STEPS, ENABLE_ONLINE_DECODE, MODEL_CKPT_DIR)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from . import logs, model
from .gpu import CudaOutOfMemoryError, GPUPool
from .job import JobSpec, run_job
from .manifest_schema import ManifestError
from .media import InputError

log = logging.getLogger("generate")


def _bool(text):
    value = str(text).strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")


def parser():
    p = argparse.ArgumentParser(prog="liveavatar-generate", description="Live Avatar stand-in (simulated GPUs)")
    p.add_argument("--size", default=os.environ.get("INFER_RES", "704*384"))
    p.add_argument("--sample_steps", type=int, default=int(os.environ.get("SAMPLE_STEPS", "4")))
    p.add_argument("--num_clip", type=int, default=10)
    p.add_argument("--infer_frames", type=int, default=48)
    p.add_argument("--offload_model", type=_bool, default=False)
    p.add_argument("--image", required=True)
    p.add_argument("--audio", required=True)
    p.add_argument("--prompt", default="")
    p.add_argument("--base_seed", type=int, default=420)
    p.add_argument("--output_dir", default=os.environ.get("OUTPUT_DIR", "/outputs"))
    p.add_argument("--job_id", default=None)
    p.add_argument("--num_gpus", type=int, default=int(os.environ.get("SIM_GPU_COUNT", "1")))
    return p


def main(argv=None):
    logs.setup()
    args = parser().parse_args(argv)
    version = os.environ.get("LIVEAVATAR_VERSION", "v1.0")
    spec = JobSpec(
        image=args.image,
        audio=args.audio,
        size=args.size,
        sample_steps=args.sample_steps,
        num_clip=args.num_clip,
        infer_frames=args.infer_frames,
        offload_model=args.offload_model,
        prompt=args.prompt,
        base_seed=args.base_seed,
        output_dir=args.output_dir,
        job_id=args.job_id,
        num_gpus=args.num_gpus,
        online_decode=os.environ.get("ENABLE_ONLINE_DECODE", "true").lower() in ("1", "true", "yes"),
    )
    pool = None
    try:
        spec.validate()
        pool = GPUPool.from_env(count=spec.num_gpus)
        pool.keep_publishing()
        summary = run_job(spec, version, pool, model.version_profile(version))
    except InputError as exc:
        log.error("%s", exc)
        return 2
    except ManifestError as exc:
        log.error("refusing the job: %s", exc)
        return 3
    except CudaOutOfMemoryError as exc:
        log.error("%s", exc)
        return 4
    finally:
        if pool is not None:
            pool.release_all()
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
