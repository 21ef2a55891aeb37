"""Frame-sentence head: the sentence against every frame, aggregated over frames.

``soft`` (UCoFiA's interactive similarity aggregation) weights frames by a softmax of their own
similarity, so a few matching frames dominate without the gradient going to one frame only;
``topk`` (HMMC) averages the k best frames (all valid frames when a video has fewer).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from tvrkit.models.config import FrameSentenceConfig
from tvrkit.models.features import TextFeatures, VideoFeatures
from tvrkit.models.heads.base import Head
from tvrkit.models.ops import l2norm, masked_softmax


def soft_aggregate(sim: Tensor, mask: Tensor, cfg: FrameSentenceConfig) -> Tensor:
    """``sim [Nt, Nv, T]`` -> ``[Nt, Nv]``: softmax(sim / temperature)-weighted mean of valid frames."""
    weights = masked_softmax(sim / cfg.temperature, mask)
    return (weights * sim.masked_fill(~mask, 0.0)).sum(-1)


def topk_aggregate(sim: Tensor, mask: Tensor, cfg: FrameSentenceConfig) -> Tensor:
    """``sim [Nt, Nv, T]`` -> ``[Nt, Nv]``: mean of the ``topk`` largest valid similarities."""
    k = min(cfg.topk, sim.shape[-1])
    best = sim.masked_fill(~mask, float("-inf")).topk(k, dim=-1).values
    valid = torch.isfinite(best)
    return best.masked_fill(~valid, 0.0).sum(-1) / valid.sum(-1).clamp_min(1)


AGGREGATIONS: dict[str, Callable[[Tensor, Tensor, FrameSentenceConfig], Tensor]] = {
    "soft": soft_aggregate,
    "topk": topk_aggregate,
}


class FrameSentence(Head):
    def __init__(self, cfg: FrameSentenceConfig, dim: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.aggregate = AGGREGATIONS[cfg.aggregation]

    def forward(self, text: TextFeatures, video: VideoFeatures) -> Tensor:
        sim = torch.einsum("td,vfd->tvf", l2norm(text.sentence), l2norm(video.frames))
        mask = video.frame_mask[None, :, :].expand_as(sim)
        return self.aggregate(sim, mask, self.cfg)
