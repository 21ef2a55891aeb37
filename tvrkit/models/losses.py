"""Contrastive losses and the channel-decorrelation terms of DRL and EERCF.

All take similarities or features of the batch gathered from every rank, so that every rank
computes the same value and the gradient equals that of one process holding the whole batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def symmetric_infonce(sim: Tensor, logit_scale: Tensor) -> Tensor:
    """Mean of text->video and video->text cross-entropy over ``logit_scale * sim [N, N]``; pair i matches i."""
    logits = logit_scale * sim.float()
    labels = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def standardise_channels(x: Tensor) -> Tensor:
    """``(x - mean) / std`` per channel (column) of ``x [N, D]``, std unbiased as ``Tensor.std``. A
    channel with no spread (every row the same value, up to rounding) is 0: it carries no evidence
    of correlation. The official codes divide by ``std(0)`` as is, which is 0 / 0 = NaN there (and a
    NaN gradient) - e.g. DRL's CDCR when every frame of a batch picks the same word, as CLIP's
    causal start token (the same vector for every caption) can be at initialisation."""
    centred = x - x.mean(0)
    var = centred.pow(2).sum(0) / max(len(x) - 1, 1)
    rounding = (64 * torch.finfo(x.dtype).eps * x.detach().abs().amax(0)).pow(2)
    spread = var > rounding
    std = torch.where(spread, var, torch.ones_like(var)).sqrt()
    return torch.where(spread, centred / std, torch.zeros_like(centred))


def channel_correlation(a: Tensor, b: Tensor, weights: Tensor, batch: int) -> Tensor:
    """Weighted cross-correlation ``[D, D]`` of the standardised channels of paired rows ``a, b [N, D]``,
    divided by the number of samples ``batch`` (rows may be several tokens per sample); a channel
    without spread contributes 0 (:func:`standardise_channels`)."""
    za, zb = standardise_channels(a), standardise_channels(b)
    return torch.einsum("n,nc,nd->cd", weights, za, zb) / batch


def decorrelation_penalty(corr: Tensor, off_diagonal: float, on_diagonal: float = 1.0) -> Tensor:
    """Barlow-twins-style: paired channels agree (diagonal -> 1), others decorrelate (off-diagonal -> 0)."""
    diagonal = torch.diagonal(corr)
    on = (diagonal - 1).pow(2).sum()
    off = (corr - torch.diag_embed(diagonal)).pow(2).sum()
    return on_diagonal * on + off_diagonal * off
