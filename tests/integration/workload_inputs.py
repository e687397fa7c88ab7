"""Real inputs for the stand-in service (a reference image and a spoken-like WAV, deterministic) and its CLI in a container."""

from __future__ import annotations

import wave

import numpy as np


def make_inputs(directory):
    import imageio.v3 as iio

    directory.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:240, 0:320]
    face = np.stack([128 + 100 * np.sin(xx / 40), 128 + 80 * np.cos(yy / 30), 160 - 60 * np.sin((xx + yy) / 50)], axis=-1)
    iio.imwrite(directory / "ref.png", np.clip(face, 0, 255).astype(np.uint8))
    t = np.arange(16000 * 4) / 16000
    samples = (np.sin(2 * np.pi * 180 * t) * np.abs(np.sin(2 * np.pi * 0.9 * t)) * 18000).astype("<i2")
    with wave.open(str(directory / "voice.wav"), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(samples.tobytes())
    return directory / "ref.png", directory / "voice.wav"


def cli_in_container(image, out_dir, cli_args, inputs_dir=None, env=("MODEL_LOAD_SECONDS=0",)):
    """argv of `docker run` for one CLI job of the stand-in service: inputs read-only at /inputs, output at /outputs."""
    argv = ["docker", "run", "--rm"]
    for item in env:
        argv += ["-e", item]
    if inputs_dir is not None:
        argv += ["-v", f"{inputs_dir}:/inputs:ro"]
    return [*argv, "-v", f"{out_dir}:/outputs", image, "python3", "-m", "liveavatar_sim", *cli_args]
