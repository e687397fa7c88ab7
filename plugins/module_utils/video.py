# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PSNR and SSIM of a candidate video against a reference, on decoded frames (numpy arrays)."""

from __future__ import annotations

import math

try:
    import numpy as np
    from scipy.ndimage import uniform_filter

    HAS_NUMPY = True
    NUMPY_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised where numpy/scipy are absent
    HAS_NUMPY = False
    NUMPY_IMPORT_ERROR = exc

# Identical videos have an infinite PSNR; reports and baselines need a number, so it is capped.
PSNR_CAP_DB = 100.0
_SSIM_WINDOW = 7
_SSIM_K1, _SSIM_K2 = 0.01, 0.03


class VideoQualityError(ValueError):
    """The two videos cannot be compared frame by frame; the message says why."""


def _as_stack(frames, label):
    stack = np.asarray(frames)
    if stack.ndim == 3:
        stack = stack[..., np.newaxis]
    if stack.ndim != 4 or stack.shape[0] == 0:
        raise VideoQualityError(f"{label} has no decodable frames (shape {getattr(stack, 'shape', None)})")
    return stack.astype(np.float64)


def _luma(stack):
    if stack.shape[-1] == 1:
        return stack[..., 0]
    return 0.299 * stack[..., 0] + 0.587 * stack[..., 1] + 0.114 * stack[..., 2]


def check_comparable(reference, candidate):
    ref = _as_stack(reference, "reference")
    cand = _as_stack(candidate, "candidate")
    if ref.shape[0] != cand.shape[0]:
        raise VideoQualityError(f"frame counts differ: reference {ref.shape[0]}, candidate {cand.shape[0]}")
    if ref.shape[1:] != cand.shape[1:]:
        raise VideoQualityError(
            f"frame sizes differ: reference {ref.shape[2]}x{ref.shape[1]}x{ref.shape[3]}, candidate {cand.shape[2]}x{cand.shape[1]}x{cand.shape[3]}"
        )
    return ref, cand


def psnr(reference, candidate, peak=255.0):
    """Mean-squared error over every frame and channel, in dB, capped at PSNR_CAP_DB (identical videos)."""
    ref, cand = check_comparable(reference, candidate)
    mse = float(np.mean((ref - cand) ** 2))
    return PSNR_CAP_DB if mse == 0 else min(PSNR_CAP_DB, 10 * math.log10(peak**2 / mse))


def _ssim_frame(x, y, peak):
    c1, c2 = (_SSIM_K1 * peak) ** 2, (_SSIM_K2 * peak) ** 2
    mu_x, mu_y = uniform_filter(x, _SSIM_WINDOW), uniform_filter(y, _SSIM_WINDOW)
    sxx = uniform_filter(x * x, _SSIM_WINDOW) - mu_x * mu_x
    syy = uniform_filter(y * y, _SSIM_WINDOW) - mu_y * mu_y
    sxy = uniform_filter(x * y, _SSIM_WINDOW) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    pad = _SSIM_WINDOW // 2
    return float(ssim_map[pad:-pad, pad:-pad].mean()) if min(x.shape) > 2 * pad else float(ssim_map.mean())


def ssim(reference, candidate, peak=255.0):
    """Mean SSIM of the luma plane (7x7 uniform window, Wang et al. constants) over all frames."""
    ref, cand = check_comparable(reference, candidate)
    ref_y, cand_y = _luma(ref), _luma(cand)
    return float(np.mean([_ssim_frame(ref_y[i], cand_y[i], peak) for i in range(ref_y.shape[0])]))


def evaluate(reference, candidate, min_psnr=None, min_ssim=None):
    """{passed, reason, psnr, ssim, frames, checks}: thresholds are optional floors."""
    value_psnr = psnr(reference, candidate)
    value_ssim = ssim(reference, candidate)
    checks = []
    for name, value, floor in (("psnr_db", value_psnr, min_psnr), ("ssim", value_ssim, min_ssim)):
        if floor is not None:
            checks.append(
                {
                    "name": name,
                    "value": value,
                    "limit": floor,
                    "passed": value >= floor,
                    "reason": f"{name} {value:.4g} (minimum {floor})",
                }
            )
    failed = [c for c in checks if not c["passed"]]
    reason = (
        ("video quality below floor: " if failed else "video quality ok: ") + "; ".join(c["reason"] for c in (failed or checks))
        if checks
        else f"psnr {value_psnr:.4g} dB, ssim {value_ssim:.4f}"
    )
    return {
        "passed": not failed,
        "reason": reason,
        "psnr_db": value_psnr,
        "ssim": value_ssim,
        "frames": int(np.asarray(reference).shape[0]),
        "checks": checks,
    }
