"""Masked tensor operations shared by the methods, the temporal modules and the losses.

Every reduction over frames or tokens takes a boolean mask so that padding never
changes a result: padded positions get zero weight or ``-inf`` before a max/softmax.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

if TYPE_CHECKING:
    from tvrkit.models.backbone import ClipBackbone


def l2norm(x: Tensor) -> Tensor:
    """Unit vectors along the last dimension (zero vectors stay zero)."""
    return F.normalize(x, dim=-1)


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``x [..., T, D]`` over the ``T`` positions where ``mask [..., T]`` is true."""
    weights = mask.to(x.dtype).unsqueeze(-1)
    return (x * weights).sum(-2) / weights.sum(-2).clamp_min(1.0)


def masked_softmax(logits: Tensor, mask: Tensor, dim: int = -1) -> Tensor:
    """Softmax over positions where ``mask`` is true; masked positions get exactly zero."""
    return torch.softmax(logits.masked_fill(~mask, float("-inf")), dim=dim)


def video_vector(frames: Tensor, frame_mask: Tensor) -> Tensor:
    """CLIP4Clip's global video embedding: unit frames, mean over valid frames, unit again."""
    return l2norm(masked_mean(l2norm(frames), frame_mask))


def check_frame_mask(frame_mask: Tensor) -> None:
    """Every video needs at least one real frame: an empty video has no embedding."""
    empty = (~frame_mask.any(dim=1)).nonzero().flatten()
    if empty.numel():
        raise ValueError(f"video(s) at batch index {empty.tolist()} have no valid frame (frame_mask all false)")


def weighted_token_interaction(
    text_tokens: Tensor,
    text_mask: Tensor,
    text_weights: Tensor,
    video_tokens: Tensor,
    video_mask: Tensor,
    video_weights: Tensor,
    zero_padding: bool = False,
) -> Tensor:
    """DRL's weighted token-wise interaction, ``[Nt, Nv]``.

    Tokens are unit vectors ``text [Nt, L, D]``, ``video [Nv, M, D]``. Each text token takes its best
    video token (and vice versa); the two directions are averaged with the per-token weights
    (softmax over valid tokens). By default padded tokens are excluded with ``-inf`` before the
    max, so padding cannot win the max when all real similarities are negative; ``zero_padding``
    is DRL's own computation: similarities with padded tokens are 0 and take part in both maxima.
    """
    sim = torch.einsum("ald,bmd->ablm", text_tokens, video_tokens)
    if zero_padding:
        sim = sim * (text_mask[:, None, :, None] & video_mask[None, :, None, :]).to(sim.dtype)
        t2v = torch.einsum("abl,al->ab", sim.amax(dim=-1), text_weights)
        return (t2v + torch.einsum("abm,bm->ab", sim.amax(dim=-2), video_weights)) / 2
    t2v = sim.masked_fill(~video_mask[None, :, None, :], float("-inf")).amax(dim=-1)
    t2v = torch.einsum("abl,al->ab", t2v.masked_fill(~text_mask[:, None, :], 0.0), text_weights)
    v2t = sim.masked_fill(~text_mask[:, None, :, None], float("-inf")).amax(dim=-2)
    v2t = torch.einsum("abm,bm->ab", v2t.masked_fill(~video_mask[None, :, :], 0.0), video_weights)
    return (t2v + v2t) / 2


def scatter_frames(values: Tensor, frame_mask: Tensor) -> Tensor:
    """``values [N, ...]`` of the N real frames -> ``[B, T, ...]`` with zeros at padded positions."""
    out = values.new_zeros(*frame_mask.shape, *values.shape[1:])
    return out.index_put((frame_mask,), values)


def embed_frames(backbone: ClipBackbone, frames: Tensor, frame_mask: Tensor) -> tuple[Tensor, Tensor]:
    """CLIP frame embeddings ``[B, T, D]`` of the real frames (padding is never encoded and stays
    zero, so it cannot leak into any feature) and the boolean mask, checked to give every video a frame."""
    frame_mask = frame_mask.bool()
    check_frame_mask(frame_mask)
    embedded, _ = backbone.encode_frames(frames[frame_mask], with_patches=False)
    return scatter_frames(embedded, frame_mask), frame_mask
