"""Contrastive losses and DRL's channel-decorrelation regulariser.

All take similarities or features of the batch gathered from every rank, so that every rank
computes the same value and the gradient equals that of one process holding the whole batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from tvrkit.models.features import TextFeatures, VideoFeatures
from tvrkit.models.heads import TokenInteraction
from tvrkit.models.ops import l2norm, video_vector


def symmetric_infonce(sim: Tensor, logit_scale: Tensor) -> Tensor:
    """Mean of text->video and video->text cross-entropy over ``logit_scale * sim [N, N]``; pair i matches i."""
    logits = logit_scale * sim.float()
    labels = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def queue_infonce(query: Tensor, keys: Tensor, queue: Tensor, logit_scale: Tensor) -> Tensor:
    """MoCo-style InfoNCE: ``query[i]`` against ``keys[i]`` (positive), the other keys and the queue."""
    logits = logit_scale * (query.float() @ torch.cat([keys, queue]).float().T)
    return F.cross_entropy(logits, torch.arange(query.shape[0], device=query.device))


def channel_correlation(a: Tensor, b: Tensor, weights: Tensor, batch: int) -> Tensor:
    """Weighted cross-correlation ``[D, D]`` of the standardised channels of paired rows ``a, b [N, D]``,
    divided by the number of samples ``batch`` (rows may be several tokens per sample)."""
    za = (a - a.mean(0)) / a.std(0)
    zb = (b - b.mean(0)) / b.std(0)
    return torch.einsum("n,nc,nd->cd", weights, za, zb) / batch


def decorrelation_penalty(corr: Tensor, off_diagonal: float, on_diagonal: float = 1.0) -> Tensor:
    """Barlow-twins-style: paired channels agree (diagonal -> 1), others decorrelate (off-diagonal -> 0)."""
    diagonal = torch.diagonal(corr)
    on = (diagonal - 1).pow(2).sum()
    off = (corr - torch.diag_embed(diagonal)).pow(2).sum()
    return on_diagonal * on + off_diagonal * off


def decorrelation_loss(
    text: TextFeatures,
    video: VideoFeatures,
    interaction: TokenInteraction | None,
    off_diagonal: float,
    on_diagonal: float = 1.0,
    zero_padding: bool = False,
) -> Tensor:
    """DRL's channel-decorrelation regulariser on the matching pairs (row i with row i).

    With a word-frame interaction (DRL's cdcr=3): every valid word is paired with its most similar
    frame and every valid frame with its most similar word, weighted by the interaction's token
    weights, and the two correlation matrices are averaged. Without one (DRL's dot-product
    variant): unit sentence against unit video vector. Zero for a single pair (no statistics).
    ``zero_padding``: DRL's own argmax over similarities zeroed at padded tokens, where a padded
    token wins when every real one is negative (as in :func:`~tvrkit.models.ops.weighted_token_interaction`).
    """
    batch = len(text)
    if batch < 2:
        return text.sentence.new_zeros(())
    if interaction is None:
        ones = text.sentence.new_ones(batch)
        corr = channel_correlation(l2norm(text.sentence), video_vector(video.frames, video.frame_mask), ones, batch)
        return decorrelation_penalty(corr, off_diagonal, on_diagonal)
    words, frames = l2norm(text.words), l2norm(video.frames)
    word_mask, frame_mask = text.word_mask, video.frame_mask
    sim = torch.einsum("bld,btd->blt", words, frames)
    if zero_padding:
        sim = sim * (word_mask[:, :, None] & frame_mask[:, None, :]).to(sim.dtype)
        best_frame, best_word = sim.argmax(-1), sim.argmax(-2)
    else:
        best_frame = sim.masked_fill(~frame_mask[:, None, :], float("-inf")).argmax(-1)  # [B, L]
        best_word = sim.masked_fill(~word_mask[:, :, None], float("-inf")).argmax(-2)  # [B, T]
    rows = torch.arange(batch, device=sim.device)[:, None]
    word_weights = interaction.weights(text.words, word_mask, text=True)
    frame_weights = interaction.weights(video.frames, frame_mask, text=False)
    t2v = channel_correlation(
        words[word_mask], frames[rows, best_frame][word_mask], word_weights[word_mask], batch
    )
    v2t = channel_correlation(
        frames[frame_mask], words[rows, best_word][frame_mask], frame_weights[frame_mask], batch
    )
    return decorrelation_penalty((t2v + v2t) / 2, off_diagonal, on_diagonal)
