"""One generation job: inputs checked first, clips rendered and encoded one by one, a manifest
written atomically after each clip, resume after the last intact clip."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from . import media, model, render
from .gpu import CudaOutOfMemoryError
from .manifest_schema import ManifestError, resume_point, validate
from .shared_files import sha256_file, write_json_atomically

log = logging.getLogger("inference_loop")


@dataclass
class JobSpec:
    image: str
    audio: str
    size: str = "704*384"
    sample_steps: int = 4
    num_clip: int = 10
    infer_frames: int = 48
    offload_model: bool = False
    prompt: str = ""
    base_seed: int = 420
    output_dir: str = "/outputs"
    job_id: str | None = None
    online_decode: bool = True
    num_gpus: int = 1

    def validate(self):
        if self.size not in model.SIZES:
            raise media.InputError(f"unsupported --size {self.size}: choose one of {', '.join(model.SIZES)}")
        for name in ("num_clip", "sample_steps", "infer_frames", "num_gpus"):
            if int(getattr(self, name)) <= 0:
                raise media.InputError(f"--{name} must be > 0 (got {getattr(self, name)})")
        if self.job_id is not None and (not self.job_id or "/" in self.job_id):
            raise media.InputError(f"--job_id {self.job_id!r} must be a name without '/'")

    def default_job_id(self):
        key = json.dumps([self.image, self.audio, self.size, self.sample_steps, self.infer_frames, self.base_seed, self.prompt])
        return "job-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def write_manifest(path, manifest):
    """Atomic: a crash leaves the old or the new manifest, never half of one."""
    write_json_atomically(str(path), manifest)


def _digest_in(job_dir):
    return lambda relative: sha256_file(str(job_dir / relative))


def run_job(spec, version, pool, profile=None, loaded=False):
    """Run (or resume) a job; returns a summary dict. Raises InputError, ManifestError or CudaOutOfMemoryError."""
    spec.validate()
    profile = profile or model.version_profile(version)
    width, height = model.SIZES[spec.size]
    total_frames = spec.num_clip * spec.infer_frames
    # Inputs are read before anything is written: bad input leaves no job directory behind.
    reference = media.load_image(spec.image, width, height)
    loudness = media.load_loudness(spec.audio, total_frames)
    job_id = spec.job_id or spec.default_job_id()
    job_dir = Path(spec.output_dir) / job_id
    manifest_path = job_dir / "manifest.json"
    start_clip = 0
    if manifest_path.exists():
        existing = validate(json.loads(manifest_path.read_text()))
        point = resume_point(existing, _digest_in(job_dir), running_version=version)
        start_clip = point["next_clip"]
        manifest = dict(existing, clips=existing["clips"][:start_clip], status="running")
        log.info("Resuming job %s after clip %d of %d (written by %s)", job_id, start_clip, spec.num_clip, existing["version"])
    else:
        manifest = {
            "version": version,
            "job_id": job_id,
            "clips": [],
            "status": "running",
            "params": {
                "size": spec.size,
                "sample_steps": spec.sample_steps,
                "infer_frames": spec.infer_frames,
                "base_seed": spec.base_seed,
                "num_clip": spec.num_clip,
                "prompt": spec.prompt,
            },
        }
    if not loaded:
        # Before the job directory is touched: a model that does not fit leaves nothing behind.
        model.load(pool, spec.num_gpus, spec.offload_model)
    (job_dir / "clips").mkdir(parents=True, exist_ok=True)
    write_manifest(manifest_path, manifest)
    clip_times = []
    try:
        for clip_index in range(start_clip, spec.num_clip):
            started = time.monotonic()
            activations = model.activation_bytes(width, height, spec.infer_frames, profile, spec.num_gpus)
            for gpu in range(spec.num_gpus):
                pool.allocate(gpu, f"activations:{job_id}", activations)
            frames = render.render_clip(reference, loudness, clip_index, spec.infer_frames, spec.sample_steps, spec.base_seed, profile)
            pool.free(f"activations:{job_id}")
            buffer = model.decode_buffer_bytes(width, height, spec.infer_frames, spec.online_decode)
            if buffer:
                pool.allocate(spec.num_gpus - 1, f"decode:{job_id}:{clip_index}", buffer)
            name = f"clip_{clip_index:04d}.mp4"
            partial = job_dir / "clips" / f".{name}.partial.mp4"
            media.write_clip(partial, frames)
            os.replace(partial, job_dir / "clips" / name)
            manifest["clips"].append(
                {
                    "id": f"clip_{clip_index:04d}",
                    "path": f"clips/{name}",
                    "sha256": sha256_file(job_dir / "clips" / name),
                    "frames": int(frames.shape[0]),
                    "version": version,
                }
            )
            write_manifest(manifest_path, manifest)
            clip_times.append(time.monotonic() - started)
            log.info("Clip %d/%d done in %.2fs (%s)", clip_index + 1, spec.num_clip, clip_times[-1], name)
    except CudaOutOfMemoryError as exc:
        log.error("%s during denoising step", exc)
        manifest["status"] = "failed"
        manifest["error"] = str(exc)
        write_manifest(manifest_path, manifest)
        raise
    finally:
        for gpu in pool.gpus:
            for tag in [t for t in gpu.allocations if t.startswith(("activations:", "decode:"))]:
                gpu.free(tag)
        pool.publish()
    manifest["status"] = "complete"
    manifest["gpu_peak_mib"] = [g["memory_peak_mib"] for g in pool.snapshot()]
    write_manifest(manifest_path, manifest)
    return {
        "job_id": job_id,
        "version": version,
        "manifest": str(manifest_path),
        "clips": len(manifest["clips"]),
        "resumed_from": start_clip,
        "clip_times_s": [round(t, 4) for t in clip_times],
        "clip_time_s": round(sum(clip_times) / len(clip_times), 4) if clip_times else None,
        "gpu_peak_mib": manifest["gpu_peak_mib"],
        "gpu_peak_gb": round(max(manifest["gpu_peak_mib"]) / 1024, 3),
    }


__all__ = ["JobSpec", "ManifestError", "run_job", "sha256_file", "write_manifest"]
