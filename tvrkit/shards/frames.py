"""Frames as shards hold them and loaders read them: the JPEG decode, and the one square crop
(short side resized to the crop size if needed, then the centre) that the loaders apply and
``tvrkit shard --crop center`` stores, so a stored crop equals the crop a loader would make.
Everything stays uint8: CLIP's normalisation happens once, on the model's device.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
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


def decode_frames(jpegs: Sequence[bytes], strict: bool = False) -> Any:
    """``uint8 [n, 3, H, W]`` of a video's JPEG frames. ``strict`` (``data.verify_frames``): a frame
    the decoder reports as corrupt raises ``ValueError`` instead of decoding to damaged pixels,
    which libjpeg-turbo otherwise does with only a note on stderr (e.g. one flipped byte)."""
    import torch

    if strict:  # simplejpeg: the same libjpeg-turbo (identical pixels), with its warnings as errors
        import simplejpeg

        return torch.stack([torch.from_numpy(simplejpeg.decode_jpeg(b, colorspace="RGB", strict=True)).permute(2, 0, 1)
                            for b in jpegs])
    return torch.stack([decode_jpeg(b) for b in jpegs])


def square_crop(frames: Any, size: int) -> Any:
    """``uint8 [n, 3, H, W]`` -> ``[n, 3, size, size]``: bicubic antialiased resize of the short
    side to ``size`` (as CLIP's preprocessing; skipped when it already is), then the centre."""
    from torchvision.transforms.v2 import functional as F

    if min(frames.shape[-2:]) != size:
        frames = F.resize(frames, size, interpolation=F.InterpolationMode.BICUBIC, antialias=True)
    return F.center_crop(frames, [size, size])
