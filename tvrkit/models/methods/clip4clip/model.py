"""CLIP4Clip (Luo et al., 2021), its loose similarity types meanP and seqTransf, as ArrowLuo/CLIP4Clip computes them.

    video = l2norm(mean over real frames of l2norm(frame'))     frame' = frame (meanP) or
    total = logit_scale * <l2norm(sentence), video>              frame + transformerClip(frame + position) (seqTransf)

``sentence`` is CLIP's end-token text embedding, ``frame`` CLIP's image embedding of each real
frame. ``model.clip4clip.temporal.type`` is the official ``--sim_header`` and ``.layers`` its
``--cross_num_hidden_layers``. seqTransf is :class:`~tvrkit.models.temporal.SeqTransf` with the
official sizes: a position table of CLIP's context length (77 rows) and QuickGELU; from CLIP
weights it starts from CLIP's first text layers and whole position table, as the official
``from_pretrained`` does. The training loss is the symmetric cross-entropy of ``total`` over the
batch gathered from every rank; the logit scale is CLIP's own, trained, clamped at 100 (the
official loop clamps it after every step).

Features (cacheable): ``TextFeatures.sentence``; ``VideoFeatures.frames`` (after the temporal
module, zero at padded positions before it) and ``frame_mask``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from tvrkit.models.config import ModelConfig
from tvrkit.models.features import TextFeatures, VideoFeatures
from tvrkit.models.losses import symmetric_infonce
from tvrkit.models.methods.base import Method
from tvrkit.models.methods.layouts import openai_clip_to_backbone, rename
from tvrkit.models.ops import embed_frames, l2norm
from tvrkit.models.temporal import build_temporal

MAX_LOG_SCALE = math.log(100.0)  # every CLIP4Clip-derived training loop clamps logit_scale here
#: the official temporal module's keys -> tvrkit's (CLIP4Clip, DRL and their descendants)
TEMPORAL_KEYS = {
    "frame_position_embeddings.weight": "temporal.position.weight",
    "transformerClip.": "temporal.transformer.",
}


def clip_logit_scale(backbone: torch.nn.Module) -> Tensor:
    """CLIP's own logit scale, clamped at 100 as the official loops clamp it after each step."""
    return backbone.clip.logit_scale.clamp(max=MAX_LOG_SCALE).exp()


def clip_contrastive(backbone: torch.nn.Module, sim: Tensor) -> tuple[Tensor, dict[str, float]]:
    """The CLIP4Clip family's loss: symmetric cross-entropy of ``clip_logit_scale * sim [N, N]``."""
    scale = clip_logit_scale(backbone)
    loss = symmetric_infonce(sim, scale)
    return loss, {"loss": float(loss.detach()), "logit_scale": float(scale.detach())}


def map_clip_and_temporal(state: dict[str, Tensor], extra: dict[str, str] | None = None) -> dict[str, Tensor]:
    """``clip.*`` -> the backbone, the temporal module's keys -> ``temporal.*``, ``extra`` renames."""
    backbone, rest = openai_clip_to_backbone(state)
    return {**backbone, **rename(rest, {**TEMPORAL_KEYS, **(extra or {})})}


class Clip4Clip(Method):
    """CLIP4Clip meanP / seqTransf; see the module docstring for the score and the features."""

    name = "clip4clip"

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        self.temporal = build_temporal(cfg.options.temporal, self.backbone)
        self.backbone.clip.logit_scale.requires_grad_(True)  # trained in the backbone's group, as officially

    def encode_video(self, frames: Tensor, frame_mask: Tensor) -> VideoFeatures:
        raw, mask = embed_frames(self.backbone, frames, frame_mask)
        return VideoFeatures(frames=self.temporal(raw, mask), frame_mask=mask)

    def score_block(self, text: TextFeatures, video: VideoFeatures, names: tuple[str, ...]) -> dict[str, Tensor]:
        """``video_sentence``: the cosine; ``total``: ``logit_scale *`` it, the official eval's logits."""
        cosine = self.global_embeddings(text) @ self.global_embeddings(video).T
        return {"video_sentence": cosine, "total": clip_logit_scale(self.backbone) * cosine}

    def loss(self, text: TextFeatures, video: VideoFeatures) -> tuple[Tensor, dict[str, float]]:
        text, video = self.gather(text, video)
        return clip_contrastive(self.backbone, l2norm(text.sentence) @ self.global_embeddings(video).T)

    @classmethod
    def looks_like(cls, state: dict[str, Tensor]) -> bool:
        """A ``clip.*`` CLIP and nothing else but the seqTransf keys."""
        if "clip.visual.proj" not in state:
            return False
        own = ("clip.", "frame_position_embeddings.", "transformerClip.")
        return all(k.startswith(own) for k in state)

    @classmethod
    def map_official(cls, state: dict[str, Tensor], cfg: ModelConfig) -> dict[str, Tensor]:
        return map_clip_and_temporal(state)
