from __future__ import annotations

import math

import numpy as np
import pytest

from ansible_collections.liveavatar.rollout.plugins.module_utils import video


def frames(n=4, h=32, w=48, seed=0):
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, w)[None, None, :, None] * np.ones((n, h, w, 3))
    return np.clip(base + rng.normal(0, 5, base.shape), 0, 255).astype(np.uint8)


def test_identical_videos_have_capped_psnr_and_ssim_one():
    clip = frames()
    assert video.psnr(clip, clip) == video.PSNR_CAP_DB and video.ssim(clip, clip) == pytest.approx(1.0)


def test_psnr_matches_the_mse_formula():
    ref = np.full((2, 16, 16, 3), 100, dtype=np.uint8)
    cand = ref.copy()
    cand[..., 0] = 110  # error 10 on one channel of three: MSE = 100 / 3
    assert video.psnr(ref, cand) == pytest.approx(10 * math.log10(255**2 / (100 / 3)))


def test_more_noise_lowers_both_metrics():
    ref = frames(seed=1)
    rng = np.random.default_rng(2)
    light = np.clip(ref + rng.normal(0, 3, ref.shape), 0, 255).astype(np.uint8)
    heavy = np.clip(ref + rng.normal(0, 30, ref.shape), 0, 255).astype(np.uint8)
    assert video.psnr(ref, light) > video.psnr(ref, heavy)
    assert video.ssim(ref, light) > video.ssim(ref, heavy)


def test_floors_decide_the_verdict():
    ref = frames(seed=3)
    noisy = np.clip(ref.astype(int) + 20, 0, 255).astype(np.uint8)
    result = video.evaluate(ref, noisy, min_psnr=40)
    assert not result["passed"] and "psnr_db" in result["reason"] and result["frames"] == 4


@pytest.mark.parametrize(
    ("candidate", "message"),
    [(frames(n=3), "frame counts differ"), (frames(w=40), "frame sizes differ"), (np.zeros((0, 4, 4, 3)), "no decodable frames")],
)
def test_mismatched_videos_are_an_error_not_a_number(candidate, message):
    with pytest.raises(video.VideoQualityError, match=message):
        video.psnr(frames(), candidate)
