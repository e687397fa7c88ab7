"""Real inputs for the stand-in service: a reference image and a spoken-like WAV (deterministic)."""

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
