"""Reading the reference image and the driving audio; writing clips."""

from __future__ import annotations

import wave

import numpy as np

FPS = 16


class InputError(ValueError):
    """A missing or unreadable input; the message names the file."""


def load_image(path, width, height):
    import imageio.v3 as iio

    try:
        image = np.asarray(iio.imread(path))
    except FileNotFoundError as exc:
        raise InputError(f"reference image not found: {path}") from exc
    except Exception as exc:  # imageio raises many types for a corrupt file
        raise InputError(f"reference image cannot be decoded: {path} ({exc.__class__.__name__})") from exc
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    if image.ndim != 3 or image.shape[0] < 2 or image.shape[1] < 2:
        raise InputError(f"reference image has an unusable shape {image.shape}: {path}")
    image = image[..., :3].astype(np.float32)
    rows = np.linspace(0, image.shape[0] - 1, height).round().astype(int)
    cols = np.linspace(0, image.shape[1] - 1, width).round().astype(int)
    return image[rows][:, cols]


def load_loudness(path, frames_needed):
    """RMS loudness per video frame (16 fps), normalised to 0..1, repeated to cover the frames needed."""
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, rate, count = wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.getnframes()
            raw = wav.readframes(count)
    except FileNotFoundError as exc:
        raise InputError(f"audio not found: {path}") from exc
    except (wave.Error, EOFError) as exc:
        raise InputError(f"audio cannot be decoded (16-bit PCM WAV expected): {path} ({exc})") from exc
    if width != 2 or count == 0:
        raise InputError(f"audio must be non-empty 16-bit PCM WAV: {path}")
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float32).reshape(-1, channels).mean(axis=1) / 32768
    per_frame = max(1, rate // FPS)
    usable = len(samples) // per_frame * per_frame
    if usable == 0:
        raise InputError(f"audio is shorter than one video frame: {path}")
    rms = np.sqrt((samples[:usable].reshape(-1, per_frame) ** 2).mean(axis=1))
    rms = rms / (rms.max() or 1.0)
    return np.resize(rms, frames_needed)


def write_clip(path, frames):
    import imageio.v3 as iio

    # One encoder thread: the same frames give the same bytes, so checksums are reproducible; ultrafast: encoding was
    # half of the lab's clip time, and both sides of every quality comparison are encoded alike.
    iio.imwrite(path, frames, fps=FPS, codec="libx264", macro_block_size=1, ffmpeg_log_level="error", output_params=["-threads", "1", "-preset", "ultrafast"])
