#!/usr/bin/python
# Copyright: liveavatar.rollout contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: video_quality
short_description: PSNR and SSIM of a candidate video against a reference
version_added: 0.1.0
description:
  - Decodes both videos (imageio with its ffmpeg plugin) and computes PSNR over all frames and
    channels and the mean SSIM of the luma plane.
  - Videos of different frame counts or frame sizes are an error, not a number.
options:
  reference:
    description: Path of the reference (golden) video.
    type: path
    required: true
  candidate:
    description: Path of the candidate's video made from the same inputs and seed.
    type: path
    required: true
  min_psnr:
    description: PSNR floor in dB; omit to only measure.
    type: float
  min_ssim:
    description: SSIM floor (0-1); omit to only measure.
    type: float
requirements:
  - numpy
  - scipy
  - imageio
  - imageio-ffmpeg
extends_documentation_fragment:
  - liveavatar.rollout.gate
author:
  - liveavatar.rollout maintainers (@liveavatar)
"""

EXAMPLES = r"""
- name: Compare the 4-GPU output with the baseline's golden clip
  liveavatar.rollout.video_quality:
    reference: "{{ golden_dir }}/v1.0/clip_0000.mp4"
    candidate: "{{ fetched_dir }}/clip_0000.mp4"
    min_ssim: 0.9
  delegate_to: localhost
  register: quality
"""

RETURN = r"""
passed:
  description: True when every given floor is met (always true without floors).
  returned: always
  type: bool
  sample: true
reason:
  description: One line with the values and floors.
  returned: always
  type: str
  sample: "video quality ok: psnr_db 38.2 (minimum 30)"
psnr_db:
  description: PSNR in dB, capped at 100 (identical videos).
  returned: always
  type: float
  sample: 38.2
ssim:
  description: Mean SSIM of the luma plane.
  returned: always
  type: float
  sample: 0.97
frames:
  description: Frames compared.
  returned: always
  type: int
  sample: 48
checks:
  description: One entry per floor given.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "psnr_db", "value": 38.2, "limit": 30, "passed": true}]
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.liveavatar.rollout.plugins.module_utils import video

try:
    import imageio.v3 as iio

    HAS_IMAGEIO = True
    IMAGEIO_ERROR = None
except ImportError as exc:
    HAS_IMAGEIO = False
    IMAGEIO_ERROR = exc


def _decode(module, label, path):
    try:
        return iio.imread(path, index=None)
    except Exception as exc:  # decoder errors vary by backend: report them in one line
        module.fail_json(msg=f"video_quality: cannot decode the {label} video: {exc} ({path})")


def main():
    module = AnsibleModule(
        argument_spec={
            "reference": {"type": "path", "required": True},
            "candidate": {"type": "path", "required": True},
            "min_psnr": {"type": "float"},
            "min_ssim": {"type": "float"},
        },
        supports_check_mode=True,
    )
    if not video.HAS_NUMPY:
        module.fail_json(msg=missing_required_lib("numpy and scipy"), exception=str(video.NUMPY_IMPORT_ERROR))
    if not HAS_IMAGEIO:
        module.fail_json(msg=missing_required_lib("imageio and imageio-ffmpeg"), exception=str(IMAGEIO_ERROR))
    reference = _decode(module, "reference", module.params["reference"])
    candidate = _decode(module, "candidate", module.params["candidate"])
    try:
        result = video.evaluate(reference, candidate, module.params["min_psnr"], module.params["min_ssim"])
    except video.VideoQualityError as exc:
        module.fail_json(msg=f"video_quality: {exc} ({module.params['reference']} vs {module.params['candidate']})")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
