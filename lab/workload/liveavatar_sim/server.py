"""Server mode: the Gradio app on 7860, /health (ready after the model load), /metrics, and /api/ping
(a light real inference for load tests, answering with the serving version in X-Served-Version)."""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time

import uvicorn
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import logs, model
from .gpu import CudaOutOfMemoryError, GPUPool
from .job import JobSpec, run_job
from .media import InputError
from .metrics import CLIPS, ERRORS, INFERENCE_SECONDS, LOAD_SECONDS, READY, export_gpus, register_labels
from .ping import ping as ping_on_simulated_gpu

log = logging.getLogger("server")
VERSION = os.environ.get("LIVEAVATAR_VERSION", "v1.0")
TRACK = os.environ.get("LIVEAVATAR_TRACK", "stable")
PROFILE = model.version_profile(VERSION)
LABELS = {"version": VERSION, "track": TRACK}

register_labels(VERSION, TRACK)
state = {"ready": False, "error": None}
pool = GPUPool.from_env()
lock = threading.Lock()


def _export_gpus():
    export_gpus(pool, VERSION, TRACK)


def _load():
    try:
        seconds = model.load(pool, len(pool.gpus), os.environ.get("OFFLOAD_MODEL", "false").lower() == "true")
        LOAD_SECONDS.labels(**LABELS).set(seconds)
        state["load_seconds"] = round(seconds, 3)
        state["ready"] = True
        READY.labels(**LABELS).set(1)
        log.info("Model ready after %.2fs, serving %s as %s", seconds, VERSION, TRACK)
    except CudaOutOfMemoryError as exc:
        ERRORS.labels(VERSION, TRACK, "oom").inc()
        state["error"] = str(exc)
        log.error("%s while loading the model", exc)
        # A model that does not fit cannot serve: exit non-zero so the supervisor sees it (the driver frees its memory).
        pool.release_all()
        logging.shutdown()
        os._exit(4)
    finally:
        _export_gpus()


def generate(image, audio, prompt, size, sample_steps, infer_frames):
    if not state["ready"]:
        raise RuntimeError("the model is still loading")
    started = time.monotonic()
    spec = JobSpec(
        image=image,
        audio=audio,
        prompt=prompt or "",
        size=size,
        sample_steps=int(sample_steps),
        num_clip=1,
        infer_frames=int(infer_frames),
        output_dir=os.environ.get("OUTPUT_DIR", tempfile.gettempdir()),
        num_gpus=len(pool.gpus),
        base_seed=420,
    )
    try:
        with lock:
            summary = run_job(spec, VERSION, pool, PROFILE, loaded=True)
    except CudaOutOfMemoryError:
        ERRORS.labels(VERSION, TRACK, "oom").inc()
        raise
    except InputError:
        ERRORS.labels(VERSION, TRACK, "decode").inc()
        raise
    finally:
        _export_gpus()
    CLIPS.labels(**LABELS).inc(summary["clips"])
    INFERENCE_SECONDS.labels(VERSION, TRACK, "clip").observe(time.monotonic() - started)
    return os.path.join(os.path.dirname(summary["manifest"]), "clips", f"clip_{summary['clips'] - 1:04d}.mp4")


def build_app():
    import gradio as gr

    api = FastAPI(title=f"Live Avatar stand-in {VERSION} (simulated GPUs)")

    @api.get("/health")
    def health():
        if state["ready"]:
            body = {"status": "ready", "version": VERSION, "model_load_s": state.get("load_seconds")}
            return JSONResponse(body, headers={"X-Served-Version": VERSION})
        return JSONResponse({"status": "loading", "version": VERSION, "error": state["error"]}, status_code=503)

    @api.get("/metrics")
    def metrics():
        _export_gpus()
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @api.get("/api/ping")
    def ping(size: int = 32):
        if not state["ready"]:
            return JSONResponse({"status": "loading"}, status_code=503)
        started = time.monotonic()
        frame = ping_on_simulated_gpu(size, int(os.environ.get("SAMPLE_STEPS", "4")), PROFILE)
        elapsed = time.monotonic() - started
        INFERENCE_SECONDS.labels(VERSION, TRACK, "ping").observe(elapsed)
        return Response(
            content=f'{{"version": "{VERSION}", "track": "{TRACK}", "checksum": {int(frame.sum())}}}',
            media_type="application/json",
            headers={"X-Served-Version": VERSION},
        )

    with gr.Blocks(title=f"Live Avatar {VERSION} (simulated GPUs)") as demo:
        gr.Markdown(f"# Live Avatar stand-in {VERSION}\nThe GPUs of this lab are simulated.")
        with gr.Row():
            image = gr.Image(type="filepath", label="Reference image")
            audio = gr.Audio(type="filepath", label="Audio")
        prompt = gr.Textbox(label="Prompt")
        size = gr.Dropdown(list(model.SIZES), value="704*384", label="Size")
        steps = gr.Slider(1, 8, value=4, step=1, label="Sample steps")
        frames = gr.Slider(4, 48, value=8, step=4, label="Frames")
        video = gr.Video(label="Result")
        gr.Button("Generate").click(generate, [image, audio, prompt, size, steps, frames], video, api_name="generate")
    return gr.mount_gradio_app(api, demo, path="/")


def main():
    logs.setup()
    threading.Thread(target=_load, daemon=True).start()
    pool.keep_publishing()
    uvicorn.run(build_app(), host=os.environ.get("BIND", "0.0.0.0"), port=int(os.environ.get("PORT", "7860")), log_level="warning")  # noqa: S104
    # A clean stop (docker stop) frees the GPUs at once, as the driver does when the process exits.
    pool.release_all()


if __name__ == "__main__":
    main()
