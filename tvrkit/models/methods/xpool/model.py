"""X-Pool (Gorti et al., CVPR 2022), as layer6ai-labs/xpool computes it.

Each text pools the raw CLIP frames of each video by scaled dot-product attention
(``modules/transformer.py``); the score is the plain cosine of the text with its pooled video:

    t, F   = LN1(sentence), LN1(frames)                       (one LayerNorm for both)
    a      = out_proj(softmax_frames(q_proj(t) . k_proj(F) / sqrt(d_head)) v_proj(F))   per head
    pooled = LN3(LN2(a) + dropout(linear_proj(LN2(a))))
    total  = <l2norm(sentence), l2norm(pooled)>

Every projection (q, k, v, out and ``linear_proj``) starts as the identity with zero bias, as the
official ``_init_parameters`` does; dropout (0.3 by default, ``model.xpool.dropout``) acts only
while training. The loss is the symmetric cross-entropy of ``logit_scale * total`` over the batch,
with CLIP's own logit scale (clamped at 100 as the official trainer clamps it after each step).
The official loader always yields ``num_frames`` frames and its attention has no mask; tvrkit
masks padded frames out of the softmax, which changes nothing for full-length videos.

Checkpoints: the official ``{"epoch", "state_dict", "optimizer"}`` with CLIP under ``clip.`` in
OpenAI's layout (``--clip_arch``) or Hugging Face's (``--huggingface``, the README's commands), and
the pooling under ``pool_frames.``.

Features (cacheable): ``TextFeatures.sentence``; ``VideoFeatures.raw_frames`` = ``frames`` = CLIP
frame embeddings (no temporal module) and ``frame_mask``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from tvrkit.errors import ConfigError
from tvrkit.models.config import ModelConfig
from tvrkit.models.features import TextFeatures, VideoFeatures
from tvrkit.models.methods.base import Method
from tvrkit.models.methods.clip4clip.model import clip_contrastive
from tvrkit.models.methods.layouts import hf_clip_to_openai, openai_clip_to_backbone, rename, split_prefix
from tvrkit.models.methods.xpool import XPoolOptions
from tvrkit.models.ops import embed_frames, l2norm, masked_softmax

#: the official pooling's keys (``pool_frames.*``) -> tvrkit's
POOL_KEYS = {
    "pool_frames.cross_attn.": "pool.",
    "pool_frames.linear_proj.": "pool.linear_proj.",
    "pool_frames.layer_norm1.": "pool.norm_in.",
    "pool_frames.layer_norm2.": "pool.norm_attn.",
    "pool_frames.layer_norm3.": "pool.norm_out.",
}


class TextConditionedPool(nn.Module):
    """X-Pool's ``Transformer``: one pooled video vector per (video, text), ``[V, N, D]``."""

    def __init__(self, dim: int, opts: XPoolOptions) -> None:
        super().__init__()
        if dim % opts.heads:
            raise ConfigError(f"model.xpool.heads: {opts.heads} does not divide the embedding width {dim}")
        self.heads = opts.heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(dim, dim) for _ in range(4))
        self.linear_proj = nn.Linear(dim, dim)
        self.norm_in, self.norm_attn, self.norm_out = (nn.LayerNorm(dim) for _ in range(3))
        self.dropout = nn.Dropout(opts.dropout)
        for linear in (self.q_proj, self.k_proj, self.v_proj, self.out_proj, self.linear_proj):
            nn.init.eye_(linear.weight)
            nn.init.zeros_(linear.bias)

    def forward(self, sentence: Tensor, frames: Tensor, frame_mask: Tensor) -> Tensor:
        """``sentence [N, D]``, ``frames [V, T, D]``, ``frame_mask [V, T]`` -> ``[V, N, D]``."""
        count, length, dim = frames.shape
        head = dim // self.heads
        text, frames = self.norm_in(sentence), self.norm_in(frames)
        q = self.q_proj(text).reshape(-1, self.heads, head)  # [N, H, d]
        k = self.k_proj(frames).reshape(count, length, self.heads, head)  # [V, T, H, d]
        v = self.v_proj(frames).reshape(count, length, self.heads, head)
        logits = torch.einsum("vthd,nhd->vhtn", k, q) / math.sqrt(head)
        weights = masked_softmax(logits, frame_mask[:, None, :, None], dim=2)
        attended = torch.einsum("vhtn,vthd->vnhd", weights, v).reshape(count, -1, dim)
        attended = self.norm_attn(self.out_proj(attended))
        return self.norm_out(attended + self.dropout(self.linear_proj(attended)))


class XPool(Method):
    """X-Pool; see the module docstring for the score and the features."""

    name = "xpool"

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        self.pool = TextConditionedPool(self.embed_dim, cfg.options)
        self.backbone.clip.logit_scale.requires_grad_(True)  # trained with CLIP's lr, as officially

    def encode_video(self, frames: Tensor, frame_mask: Tensor) -> VideoFeatures:
        raw, mask = embed_frames(self.backbone, frames, frame_mask)
        return VideoFeatures(frames=raw, frame_mask=mask, raw_frames=raw)

    def _cosine(self, text: TextFeatures, video: VideoFeatures) -> Tensor:
        pooled = self.pool(text.sentence, video.raw_frames, video.frame_mask)  # [v, n, D]
        return torch.einsum("nd,vnd->nv", l2norm(text.sentence), l2norm(pooled))

    def score_block(self, text: TextFeatures, video: VideoFeatures, names: tuple[str, ...]) -> dict[str, Tensor]:
        cosine = self._cosine(text, video)
        return {"video_sentence": cosine, "total": cosine}

    def loss(self, text: TextFeatures, video: VideoFeatures) -> tuple[Tensor, dict[str, float]]:
        text, video = self.gather(text, video)
        return clip_contrastive(self.backbone, self._cosine(text, video))

    @classmethod
    def looks_like(cls, state: dict[str, Tensor]) -> bool:
        return "pool_frames.cross_attn.q_proj.weight" in state

    @classmethod
    def map_official(cls, state: dict[str, Tensor], cfg: ModelConfig) -> dict[str, Tensor]:
        """``clip.*`` (OpenAI's or Hugging Face's layout) -> the backbone; ``pool_frames.*`` -> ``pool.*``."""
        if "clip.text_model.embeddings.token_embedding.weight" in state:
            clip, rest = split_prefix(state, "clip.")
            state = {**{"clip." + k: v for k, v in hf_clip_to_openai(clip).items()}, **rest}
        backbone, rest = openai_clip_to_backbone(state)
        return {**backbone, **rename(rest, POOL_KEYS)}

