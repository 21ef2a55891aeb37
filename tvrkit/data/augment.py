"""Training augmentation of one video's uint8 frames, before normalisation: X-Pool's random
resized crop and horizontal flip (``data.augment``).

X-Pool applies torchvision's ``RandomResizedCrop(224, scale=(0.5, 1))`` and
``RandomHorizontalFlip()`` to the stacked frames of a video, so one crop box and one flip
decision hold for every frame of it. Here the draws come from the sample's own generator
(seeded by (seed, epoch, item)), so a sample is the same in any worker, on any rank and
after a resume. Frames stay uint8: the model's device normalises them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tvrkit.data.config import AugmentConfig

CROP_TRIES = 10  # torchvision's attempts before falling back to a center crop


def random_resized_box(height: int, width: int, scale: tuple[float, ...], ratio: tuple[float, ...],
                       rng: np.random.Generator) -> tuple[int, int, int, int]:
    """``(top, left, h, w)`` of a crop covering a ``scale`` fraction of the frame's area with a
    log-uniform aspect ratio (width / height) in ``ratio``: torchvision's RandomResizedCrop rule
    (up to ``CROP_TRIES`` draws, then the largest center crop whose ratio lies in ``ratio``)."""
    area = height * width
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(CROP_TRIES):
        target = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(log_lo, log_hi))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        w, h = int(round(height * max(ratio))), height
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


class VideoAugment:
    """``uint8 [n, 3, H, W]`` frames of one video -> ``uint8 [n, 3, S, S]``, randomly cropped
    (or resized and center-cropped by ``crop`` when ``cfg.crop_scale`` is None) and flipped."""

    def __init__(self, cfg: AugmentConfig, image_size: int, crop: Any) -> None:
        self.cfg, self.image_size, self.crop = cfg, image_size, crop

    def __call__(self, frames: Any, rng: np.random.Generator) -> Any:
        from torchvision.transforms.v2 import functional as F

        cfg, size = self.cfg, self.image_size
        if cfg.crop_scale is None:
            out = self.crop(frames)
        else:
            top, left, h, w = random_resized_box(frames.shape[-2], frames.shape[-1], cfg.crop_scale,
                                                 cfg.crop_ratio, rng)
            out = F.resized_crop(frames, top, left, h, w, [size, size],
                                 interpolation=F.InterpolationMode.BILINEAR, antialias=False)
        if cfg.flip > 0 and rng.random() < cfg.flip:
            out = out.flip(-1)
        return out
