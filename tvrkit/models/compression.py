"""Semantic compression of patch tokens for the patch-word level (UCoFiA, VSC-HA).

A frame has tens to hundreds of patches, most of them background; keeping the few most salient
ones makes patch-word scoring and its cache an order of magnitude smaller. Saliency is the cosine
of a patch with its frame's embedding (the CLS output), which needs no text, so compressed
patches are computed once per video. ``keep`` drops the rest; ``merge`` keeps one more token, the
saliency-weighted average of everything dropped (EViT-style fusion), so no region vanishes entirely.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from tvrkit.models.ops import l2norm


def saliency(patches: Tensor, frames: Tensor) -> Tensor:
    """``patches [N, P, D]``, ``frames [N, D]`` -> cosine of each patch with its frame, ``[N, P]``."""
    return torch.einsum("npd,nd->np", l2norm(patches), l2norm(frames))


def _gather(patches: Tensor, index: Tensor) -> Tensor:
    return patches.gather(1, index[..., None].expand(-1, -1, patches.shape[-1]))


def keep_salient(patches: Tensor, frames: Tensor, keep: int) -> Tensor:
    """The ``keep`` most salient patches of each frame, ``[N, keep, D]``."""
    if keep >= patches.shape[1]:
        return patches
    return _gather(patches, saliency(patches, frames).topk(keep, dim=1).indices)


def merge_rest(patches: Tensor, frames: Tensor, keep: int) -> Tensor:
    """The ``keep - 1`` most salient patches plus one saliency-weighted average of the others."""
    if keep >= patches.shape[1]:
        return patches
    scores = saliency(patches, frames)
    top = scores.topk(keep - 1, dim=1).indices
    rest = torch.ones_like(scores, dtype=torch.bool).scatter(1, top, False)
    weights = torch.softmax(scores.masked_fill(~rest, float("-inf")), dim=1)
    fused = torch.einsum("np,npd->nd", weights, patches)[:, None, :]
    return torch.cat([_gather(patches, top), fused], dim=1)


COMPRESSIONS: dict[str, Callable[[Tensor, Tensor, int], Tensor]] = {"keep": keep_salient, "merge": merge_rest}
