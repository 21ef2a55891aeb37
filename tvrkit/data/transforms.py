"""Frames to CLIP-sized uint8 crops in a loader worker: resize of the short side to
``image_size`` (bicubic, antialiased, as CLIP's preprocessing) and center crop, the exact
:func:`tvrkit.shards.frames.square_crop` that ``tvrkit shard --crop center`` stores.
Everything here stays uint8 (augmentations too): CLIP's mean/std normalisation happens once,
on the model's device (:func:`tvrkit.data.device.normalise_frames`).
"""

from __future__ import annotations

from typing import Any

from tvrkit.shards.frames import square_crop


class FrameTransform:
    """``uint8 [n, 3, H, W]`` frames of one video -> ``uint8 [n, 3, S, S]``, in a loader worker."""

    def __init__(self, image_size: int) -> None:
        self.image_size = image_size
        # import the decoders and transforms now, in the process that builds the loader, so
        # forked DataLoader workers inherit them instead of each importing torchvision again
        import torchvision.io  # noqa: F401
        import torchvision.transforms.v2.functional  # noqa: F401

    def crop(self, frames: Any) -> Any:
        """Resize the short side to ``image_size`` (if needed) and center-crop, staying uint8."""
        return square_crop(frames, self.image_size)
