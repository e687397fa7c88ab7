from __future__ import annotations

import numpy as np
import pytest

from ansible_collections.liveavatar.rollout.plugins.modules import video_quality

from helpers import run_module

iio = pytest.importorskip("imageio.v3", reason="imageio is in requirements.txt; absent here")


def write_video(path, frames):
    iio.imwrite(path, frames, fps=8, codec="libx264", macro_block_size=1)


def gradient(n=6, h=64, w=96, shift=0):
    x = np.linspace(0, 255, w)[None, None, :, None] + np.arange(n)[:, None, None, None] * 4 + shift
    return np.clip(x * np.ones((n, h, w, 3)), 0, 255).astype(np.uint8)


def test_same_encode_scores_high_and_a_shifted_one_lower(capsys, tmp_path):
    write_video(tmp_path / "ref.mp4", gradient())
    write_video(tmp_path / "same.mp4", gradient())
    write_video(tmp_path / "worse.mp4", gradient(shift=40))
    same, code = run_module(video_quality.main, {"reference": str(tmp_path / "ref.mp4"), "candidate": str(tmp_path / "same.mp4")}, capsys)
    assert code == 0 and same["frames"] == 6 and same["ssim"] > 0.99
    worse, _code = run_module(video_quality.main, {"reference": str(tmp_path / "ref.mp4"), "candidate": str(tmp_path / "worse.mp4"), "min_psnr": 30}, capsys)
    assert worse["psnr_db"] < 30 and worse["passed"] is False


def test_length_mismatch_is_an_error(capsys, tmp_path):
    write_video(tmp_path / "ref.mp4", gradient(n=6))
    write_video(tmp_path / "short.mp4", gradient(n=4))
    result, code = run_module(video_quality.main, {"reference": str(tmp_path / "ref.mp4"), "candidate": str(tmp_path / "short.mp4")}, capsys)
    assert code == 1 and "frame counts differ: reference 6, candidate 4" in result["msg"]


def test_undecodable_file_is_an_error(capsys, tmp_path):
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    write_video(tmp_path / "ref.mp4", gradient())
    result, code = run_module(video_quality.main, {"reference": str(tmp_path / "ref.mp4"), "candidate": str(tmp_path / "junk.mp4")}, capsys)
    assert code == 1 and result["msg"].startswith("video_quality: cannot decode the candidate video")
