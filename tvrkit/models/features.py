"""Encoded texts and videos: what the encoders produce, the heads consume and eval caches.

Both are dataclasses of tensors with a leading batch dimension. Fields a configuration does not
need are ``None`` (no word tokens without a token-level head, no patches without patch_word).
Sequence fields (tokens, frames, patches and their masks) are padded with masked-out positions
when batches of different lengths are concatenated, which changes no score.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor

FeaturesT = TypeVar("FeaturesT", bound="_Features")
_SEQ = {"seq": True}  # field metadata: dimension 1 is a padded sequence


@dataclass
class _Features:
    def tensors(self) -> dict[str, Tensor]:
        """The fields that are present."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is not None}

    def map(self: FeaturesT, fn: Callable[[Tensor], Tensor]) -> FeaturesT:
        """A copy with ``fn`` applied to every present field."""
        return dataclasses.replace(self, **{k: fn(v) for k, v in self.tensors().items()})

    def to(self: FeaturesT, device: torch.device | str, non_blocking: bool = False) -> FeaturesT:
        return self.map(lambda t: t.to(device, non_blocking=non_blocking))

    def detach(self: FeaturesT) -> FeaturesT:
        return self.map(Tensor.detach)

    def __len__(self) -> int:
        return next(iter(self.tensors().values())).shape[0]

    def __getitem__(self: FeaturesT, index: int | slice | Tensor | Sequence[int]) -> FeaturesT:
        if isinstance(index, int):  # keep the batch dimension
            index = slice(index, index + 1) if index != -1 else slice(-1, None)
        return self.map(lambda t: t[index])

    @classmethod
    def cat(cls: type[FeaturesT], items: Sequence[FeaturesT]) -> FeaturesT:
        """Concatenate along the batch; sequence fields are padded to the longest first."""
        if not items:
            raise ValueError(f"{cls.__name__}.cat needs at least one item")
        out: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            values = [getattr(item, f.name) for item in items]
            present = [v is not None for v in values]
            if not any(present):
                out[f.name] = None
                continue
            if not all(present):
                raise ValueError(f"{cls.__name__}.cat: field {f.name} is present in some items only")
            if f.metadata.get("seq"):
                longest = max(v.shape[1] for v in values)
                values = [_pad_dim1(v, longest) for v in values]
            out[f.name] = torch.cat(values)
        return cls(**out)

    def state(self) -> dict[str, Tensor]:
        """Plain dict of the present tensors (for ``torch.save`` / safetensors caches)."""
        return dict(self.tensors())

    @classmethod
    def from_state(cls: type[FeaturesT], state: dict[str, Tensor]) -> FeaturesT:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(state) - names
        if unknown:
            raise ValueError(f"{cls.__name__}.from_state: unknown field(s) {sorted(unknown)}")
        return cls(**state)


def _pad_dim1(t: Tensor, length: int) -> Tensor:
    """Pad dimension 1 with zeros (False for masks) up to ``length``."""
    missing = length - t.shape[1]
    if missing == 0:
        return t
    pad = [0, 0] * (t.dim() - 2) + [0, missing]  # F.pad lists dimensions last-first
    return F.pad(t, pad) if t.dtype != torch.bool else F.pad(t.to(torch.uint8), pad).bool()


@dataclass
class TextFeatures(_Features):
    """``sentence [B, D]`` (pooled at the end token, projected); ``words [B, L, D]`` (every token,
    projected) with ``word_mask [B, L]`` (start, words and end token); ``key [B, D]``: the
    momentum encoder's unit sentence vector, present only while training with momentum contrast."""

    sentence: Tensor
    words: Tensor | None = field(default=None, metadata=_SEQ)
    word_mask: Tensor | None = field(default=None, metadata=_SEQ)
    key: Tensor | None = None


@dataclass
class VideoFeatures(_Features):
    """``frames [B, T, D]``: frame embeddings after the temporal module; ``frame_mask [B, T]``;
    ``patches [B, T, K, D]``: the kept (compressed) patch tokens of each frame; ``raw_frames
    [B, T, D]``: CLIP's frame embeddings before the temporal module, for methods that score them
    (X-Pool, UCoFiA's frame level, HMMC's top-k frames); ``key [B, D]`` as in :class:`TextFeatures`;
    ``frame_key [B, T, D]``: the momentum encoder's unit frame vectors (HMMC pre-training), training only.
    What a method stores in each field is documented on the method's class."""

    frames: Tensor = field(metadata=_SEQ)
    frame_mask: Tensor = field(metadata=_SEQ)
    patches: Tensor | None = field(default=None, metadata=_SEQ)
    raw_frames: Tensor | None = field(default=None, metadata=_SEQ)
    key: Tensor | None = None
    frame_key: Tensor | None = field(default=None, metadata=_SEQ)
