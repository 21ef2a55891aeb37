"""Video-sentence heads: one vector per video against the sentence vector.

``mean`` (CLIP4Clip) is a plain dot product of two cacheable unit vectors, so it can be indexed
and serve as the coarse stage of coarse-to-fine retrieval. ``xpool`` (X-Pool) pools frames with
attention from the sentence, giving each (text, video) pair its own video vector; X-Pool's
dropout is left out so that scores and the distributed loss stay deterministic.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from tvrkit.models.config import VideoSentenceConfig
from tvrkit.models.features import TextFeatures, VideoFeatures
from tvrkit.models.heads.base import Head
from tvrkit.models.ops import l2norm, video_vector


class MeanVideoSentence(Head):
    """Cosine of the sentence with the mean of unit frame embeddings."""

    def __init__(self, cfg: VideoSentenceConfig, dim: int) -> None:
        super().__init__()

    def forward(self, text: TextFeatures, video: VideoFeatures) -> Tensor:
        return l2norm(text.sentence) @ video_vector(video.frames, video.frame_mask).T


class XPoolVideoSentence(Head):
    """X-Pool's text-conditioned pooling: the sentence queries the frames (single head)."""

    def __init__(self, cfg: VideoSentenceConfig, dim: int) -> None:
        super().__init__()
        self.norm_in = nn.LayerNorm(dim)
        self.q_proj, self.k_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.v_proj, self.out_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.norm_attn = nn.LayerNorm(dim)
        self.linear = nn.Linear(dim, dim)
        self.norm_out = nn.LayerNorm(dim)
        with torch.no_grad():
            # X-Pool starts its projections at identity: pooling begins as similarity-weighted frames.
            for proj in (self.q_proj, self.k_proj, self.v_proj, self.out_proj):
                proj.weight.copy_(torch.eye(dim))
                proj.bias.zero_()

    def forward(self, text: TextFeatures, video: VideoFeatures) -> Tensor:
        sentence = self.norm_in(text.sentence)  # [Nt, D]
        frames = self.norm_in(video.frames)  # [Nv, T, D]
        q, k, v = self.q_proj(sentence), self.k_proj(frames), self.v_proj(frames)
        logits = torch.einsum("td,vfd->vtf", q, k) / math.sqrt(q.shape[-1])
        logits = logits.masked_fill(~video.frame_mask[:, None, :], float("-inf"))
        pooled = torch.einsum("vtf,vfd->vtd", torch.softmax(logits, dim=-1), v)  # [Nv, Nt, D]
        pooled = self.norm_attn(self.out_proj(pooled))
        pooled = self.norm_out(pooled + self.linear(pooled))
        return torch.einsum("td,vtd->tv", l2norm(text.sentence), l2norm(pooled))


POOLINGS: dict[str, type[Head]] = {"mean": MeanVideoSentence, "xpool": XPoolVideoSentence}


def build_video_sentence(cfg: VideoSentenceConfig, dim: int) -> Head:
    return POOLINGS[cfg.pooling](cfg, dim)
