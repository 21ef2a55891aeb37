"""Batches onto the model's device, normalised there.

The loaders ship frames as uint8 ``[B, T, 3, S, S]`` (one byte per pixel through shared
memory, pinned when the model is on CUDA) and CLIP's mean/std normalisation happens once,
on the device that runs the model. :func:`normalise_frames` is that one normalisation:
training, validation, eval embedding, indexing and the benchmarks all go through it,
usually by iterating a :class:`DeviceBatches`. On CUDA that is a prefetcher: it copies the
next batch on a side stream with ``non_blocking=True`` and normalises it there while the
current step runs (the fast_collate + prefetcher pattern of timm and NVIDIA's apex). On
any other device it is a plain iterator that moves and normalises each batch when the
step asks for it, with the same arithmetic as the float batches the loaders built before
(bit-for-bit; tested).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import torch

Batch = dict[str, Any]
_SCALE_BIAS: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}


def _scale_bias(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """CLIP's ``(x / 255 - mean) / std`` as ``x * scale + bias`` (two passes over the output,
    no temporaries), as ``[3, 1, 1]`` float32 tensors on ``device``, built once per device."""
    key = str(device)
    if key not in _SCALE_BIAS:
        from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

        std = torch.tensor(OPENAI_DATASET_STD).view(3, 1, 1)
        mean = torch.tensor(OPENAI_DATASET_MEAN).view(3, 1, 1)
        _SCALE_BIAS[key] = ((1.0 / (255.0 * std)).to(device), (-mean / std).to(device))
    return _SCALE_BIAS[key]


def normalise_frames(frames: torch.Tensor, frame_mask: torch.Tensor | None = None) -> torch.Tensor:
    """float32 CLIP input from uint8 frames ``[..., 3, H, W]``, computed on their device.

    With ``frame_mask`` (bool, the leading dims of ``frames``, e.g. ``[B, T]``) the frames it
    marks False are exactly zero afterwards: padding stays padding, never a normalised black
    frame. Only uint8 is accepted, so a batch can never be normalised twice.
    """
    if frames.dtype != torch.uint8:
        raise TypeError(f"normalise_frames takes uint8 frames, got {frames.dtype} (already normalised?)")
    scale, bias = _scale_bias(frames.device)
    out = torch.mul(frames, scale).add_(bias)
    if frame_mask is not None:
        out.masked_fill_(~frame_mask.to(out.device)[..., None, None, None], 0.0)
    return out


def batch_to_device(batch: Batch, device: torch.device, non_blocking: bool = False) -> Batch:
    """``batch`` with its tensors on ``device`` and ``frames`` normalised there."""
    moved = {k: v.to(device, non_blocking=non_blocking) if torch.is_tensor(v) else v for k, v in batch.items()}
    moved["frames"] = normalise_frames(moved["frames"], moved.get("frame_mask"))
    return moved


class DeviceBatches:
    """Iterate ``batches`` (a loader's uint8 batches) as normalised batches on ``device``.

    On CUDA, batch ``k + 1`` is copied and normalised on a side stream while the caller runs
    its step on batch ``k``; the caller's stream waits for the copy only when it takes the
    batch, and each tensor is marked as used by that stream so its memory is not reused early.
    """

    def __init__(self, batches: Iterable[Batch], device: torch.device | str) -> None:
        self.batches = batches
        self.device = torch.device(device)

    def __len__(self) -> int:
        return len(self.batches)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Batch]:
        if self.device.type == "cuda":
            return self._prefetched()
        return (batch_to_device(batch, self.device) for batch in self.batches)

    def _prefetched(self) -> Iterator[Batch]:
        current = torch.cuda.current_stream(self.device)
        side = torch.cuda.Stream(self.device)
        _scale_bias(self.device)  # built on the current stream, before the side stream waits on it
        side.wait_stream(current)
        source = iter(self.batches)

        def ahead() -> Batch | None:
            batch = next(source, None)
            if batch is None:
                return None
            with torch.cuda.stream(side):
                return batch_to_device(batch, self.device, non_blocking=True)

        upcoming = ahead()
        while upcoming is not None:
            current.wait_stream(side)
            batch = upcoming
            for value in batch.values():
                if torch.is_tensor(value):
                    value.record_stream(current)
            upcoming = ahead()  # enqueued before the caller's step: the copy overlaps it
            yield batch
