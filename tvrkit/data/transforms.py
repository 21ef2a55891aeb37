"""Frames to CLIP-sized uint8 crops: JPEG decode (libjpeg-turbo via torchvision), resize of the
short side to ``image_size`` (bicubic, antialiased, as CLIP's preprocessing) and center crop.
The loaders, ``tvrkit shard --crop center`` and the benchmark floor share these exact functions.
Everything here stays uint8 (augmentations too): CLIP's mean/std normalisation happens once,
on the model's device (:func:`tvrkit.data.device.normalise_frames`).
"""

from __future__ import annotations

import warnings
from typing import Any


def decode_jpeg(data: bytes) -> Any:
    """``uint8 [3, H, W]`` RGB tensor of JPEG ``data``; raises on damaged data."""
    import torch
    from torchvision.io import ImageReadMode
    from torchvision.io import decode_jpeg as tv_decode_jpeg

    # torchvision 0.29 deprecates its codecs (for TorchCodec, not installed here); its
    # libjpeg-turbo decode is still the fastest we have (0.3 ms vs Pillow's 0.5 ms per 224p
    # frame), so the per-call notice is silenced. bytearray: torch wants a writable buffer.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return tv_decode_jpeg(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.RGB)


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
        from torchvision.transforms.v2 import functional as F

        size = self.image_size
        if min(frames.shape[-2:]) != size:
            frames = F.resize(frames, size, interpolation=F.InterpolationMode.BICUBIC, antialias=True)
        return F.center_crop(frames, [size, size])
