"""Frames from the reference image driven by the audio's loudness, through a small denoising loop.

The work is real numpy compute whose cost grows with resolution, frames and sample steps. The
versions differ in code path (profile keys), not in reported numbers:
- render_path "reference": frame by frame; "batched": the same math over `batch_frames` frames at once.
- latent_precision "float16_quantized": latents are cast to float16 and quantised (QUANT_STEP)
  between steps (a lossy shortcut: visibly lower PSNR against the float32 path).
- refine_passes 2: the refinement pass runs twice per step (slower clips, same target).
"""

from __future__ import annotations

import numpy as np

NOISE_SIGMA = 40.0
# The float16 shortcut keeps 256 / QUANT_STEP levels per channel between steps.
QUANT_STEP = 24.0


def _blur(x, axis_h=-3, axis_w=-2):
    """3x3 box blur with edge wrap (np.roll): the stand-in for one attention/denoise step."""
    out = x + np.roll(x, 1, axis=axis_h) + np.roll(x, -1, axis=axis_h)
    return (out + np.roll(out, 1, axis=axis_w) + np.roll(out, -1, axis=axis_w)) / 9.0


def _target(reference, loudness):
    """The reference with its lower-middle region (the mouth) opened and brightened by loudness."""
    height, width = reference.shape[-3], reference.shape[-2]
    mouth_rows = slice(int(height * 0.62), int(height * 0.78))
    mouth_cols = slice(int(width * 0.35), int(width * 0.65))
    target = np.array(reference, dtype=np.float32, copy=True)
    loud = np.asarray(loudness, dtype=np.float32).reshape(-1, *([1] * 3)) if target.ndim == 4 else np.float32(loudness)
    target[..., mouth_rows, mouth_cols, :] = target[..., mouth_rows, mouth_cols, :] * (1 - 0.6 * loud) + 40 * loud
    return target


def _quantize_fp16(latent):
    return (np.round(latent.astype(np.float16) / QUANT_STEP) * QUANT_STEP).astype(np.float32)


def _denoise(latent, target, steps, profile):
    for _step in range(steps):
        rate = 0.6  # each step removes 60% of what is left: some seeded grain stays, as in a real sampler
        for _refine in range(profile["refine_passes"]):
            refined = _blur(latent) * 0.25 + latent * 0.75
        latent = refined + (target - refined) * rate
        if profile["latent_precision"] == "float16_quantized":
            latent = _quantize_fp16(latent)
    return latent


def _noise(seed, frame_index, shape):
    return np.random.default_rng([seed, frame_index]).normal(0.0, NOISE_SIGMA, shape).astype(np.float32)


def render_clip(reference, loudness, clip_index, frames, steps, seed, profile):
    """uint8 frames (frames, H, W, 3) of one clip; deterministic for (inputs, seed, profile)."""
    first = clip_index * frames
    indices = range(first, first + frames)
    if profile["render_path"] == "batched":
        out = []
        batch = int(profile.get("batch_frames", 2))
        for start in range(first, first + frames, batch):
            chunk = range(start, min(start + batch, first + frames))
            noise = np.stack([_noise(seed, i, reference.shape) for i in chunk])
            target = _target(np.broadcast_to(reference, noise.shape), loudness[chunk.start : chunk.stop])
            out.append(_denoise(target + noise, target, steps, profile))
        latent = np.concatenate(out)
    else:
        out = []
        for i in indices:
            target = _target(reference, loudness[i])
            out.append(_denoise(target + _noise(seed, i, reference.shape), target, steps, profile))
        latent = np.stack(out)
    return np.clip(np.round(latent), 0, 255).astype(np.uint8)
