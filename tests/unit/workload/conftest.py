"""The stand-in service's package, importable from lab/workload; small real inputs made per test."""

from __future__ import annotations

import sys
import wave
from pathlib import Path

import numpy as np
import pytest

WORKLOAD = Path(__file__).resolve().parents[3] / "lab" / "workload"
sys.path.insert(0, str(WORKLOAD))


@pytest.fixture
def inputs(tmp_path):
    import imageio.v3 as iio

    image = tmp_path / "ref.png"
    rng = np.random.default_rng(5)
    iio.imwrite(image, (rng.random((120, 160, 3)) * 255).astype(np.uint8))
    audio = tmp_path / "voice.wav"
    t = np.arange(16000 * 2) / 16000
    samples = (np.sin(2 * np.pi * 220 * t) * np.abs(np.sin(2 * np.pi * 0.7 * t)) * 20000).astype("<i2")
    with wave.open(str(audio), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(samples.tobytes())
    return {"image": str(image), "audio": str(audio), "out": tmp_path / "out"}


@pytest.fixture(autouse=True)
def fast_model_load(monkeypatch):
    monkeypatch.setenv("MODEL_LOAD_SECONDS", "0")
