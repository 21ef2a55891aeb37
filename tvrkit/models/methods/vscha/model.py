"""VSC-HA (video semantic compression + hierarchical alignment), as github:OPA067/VSC-HA computes it.

Training (``model/clip.py``, ``trainer/trainer.py``): the compression module perturbs each
frame embedding of the batch, conditioned on its own caption (``modules/VSC_module.py``):
``c_f = cos(t, v_f)``, ``s = exp(MLP([c_1..c_F]))`` (one value per channel) and
``v'_f = v_f - (1 - c_f) * s * u_f`` with ``u ~ U[0, 1)`` drawn afresh each step. Three
text-conditioned pools of the perturbed frames give three losses (CLIP's symmetric
cross-entropy at the backbone's learned logit scale), ``alpha * video-sentence + frame-sentence
+ beta * entity-word``:

- absolute pool (video-sentence): ``softmax_f(t . v_f / 5)``-weighted mean of the frames; the
  official similarity matrix of this loss pairs text ``i`` with video ``i`` pooled by text ``j``
  (``sim_matrix_training`` on an ``[texts, videos, D]`` tensor it reads as ``[videos, texts, D]``),
  reproduced as it is;
- attention pool (frame-sentence, X-Pool's): layer-normed text queries attend over layer-normed
  frames, out projection, layer norm, residual linear with dropout, layer norm;
- adaptive pool (entity-word): the absolute-pooled video and the text are split into ``center``
  chunks; chunk cosines are summed with weights from an MLP over each chunk pair.

Evaluation (``trainer._valid_epoch_step``) uses no compression (it exists in training only, and
draws no random number otherwise) and ranks by the attention pool. ``total`` here is that
similarity computed honestly, each video pooled by the query being ranked, exactly as the
official training similarity; the official evaluation instead pools every video with one of its
OWN captions for every query, a ground-truth leak that :meth:`VSCHA.ground_truth_leak_scores`
reproduces for comparison only (docs/methods.md gives both numbers). ``video_sentence`` and
``entity_word`` are the other two pools' honest scores, reported as partial scores.

Features: ``TextFeatures.sentence`` is CLIP's (unnormalised) sentence embedding;
``VideoFeatures.frames`` CLIP's (unnormalised) frame embeddings, with ``padding: repeat_last``
a short video's last frame copied into its padding slots, which then count as frames.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from tvrkit.errors import ConfigError
from tvrkit.models.config import ModelConfig
from tvrkit.models.features import TextFeatures, VideoFeatures
from tvrkit.models.losses import symmetric_infonce
from tvrkit.models.methods.base import Method
from tvrkit.models.methods.layouts import hf_clip_to_openai, openai_clip_to_backbone, rename, split_prefix
from tvrkit.models.ops import check_frame_mask, l2norm, masked_softmax, scatter_frames

POOL_TEMPERATURE = 5.0  # hard-coded in the official absolute and adaptive pools
# Official keys no forward pass reads (VSC_module.linear_proj and learnable_scalar, the adaptive
# pool's two linear layers): dropped on load, not built.
UNUSED_OFFICIAL = ("Compression.VSC_module.linear_proj.", "Compression.VSC_module.learnable_scalar",
                   "Adaptive.linear_layer_text.", "Adaptive.linear_layer_video.")
OFFICIAL_NAMES = {"Compression.VSC_module.video_mlp.": "video_mlp.", "Attention.cross_attn.": "attention.",
                  "Attention.": "attention.", "Adaptive.weight_fc.": "weight_fc."}


class AttentionPool(nn.Module):
    """X-Pool's text-conditioned frame pooling as VSC-HA's ``modules/Attention_module.py``."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        if dim % heads:
            raise ConfigError(f"model.vscha.heads: {heads} does not divide the embedding width {dim}")
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj, self.linear_proj = (
            nn.Linear(dim, dim) for _ in range(5))
        self.layer_norm1, self.layer_norm2, self.layer_norm3 = (nn.LayerNorm(dim) for _ in range(3))
        self.dropout = nn.Dropout(dropout)
        with torch.no_grad():  # the official init: identity projections, zero biases
            for lin in (self.q_proj, self.k_proj, self.v_proj, self.out_proj, self.linear_proj):
                nn.init.eye_(lin.weight)
                lin.bias.zero_()

    def forward(self, text: Tensor, frames: Tensor, mask: Tensor) -> Tensor:
        """``text [n, D]``, ``frames [v, T, D]``, ``mask [v, T]`` -> pooled videos ``[n, v, D]``
        (video ``j`` pooled by text ``i`` at ``[i, j]``)."""
        n, (v, length, dim) = text.shape[0], frames.shape
        head_dim = dim // self.heads
        t, f = self.layer_norm1(text), self.layer_norm1(frames)
        q = self.q_proj(t).view(n, self.heads, head_dim)
        k = self.k_proj(f).view(v, length, self.heads, head_dim)
        values = self.v_proj(f).view(v, length, self.heads, head_dim)
        logits = torch.einsum("nhd,vthd->nvht", q, k) / math.sqrt(head_dim)
        weights = masked_softmax(logits, mask[None, :, None, :])
        pooled = self.out_proj(torch.einsum("nvht,vthd->nvhd", weights, values).reshape(n, v, dim))
        pooled = self.layer_norm2(pooled)
        return self.layer_norm3(pooled + self.dropout(self.linear_proj(pooled)))


def absolute_pool(text: Tensor, frames: Tensor, mask: Tensor) -> Tensor:
    """``softmax_f(t . v_f / 5)``-weighted frames: ``[n, D] x [v, T, D] -> [n, v, D]``."""
    weights = masked_softmax(torch.einsum("nd,vtd->nvt", text, frames) / POOL_TEMPERATURE, mask[None])
    return torch.einsum("nvt,vtd->nvd", weights, frames)


class VSCHA(Method):
    """``model.method: vscha`` (see the module docstring for the math and what is stored)."""

    name = "vscha"

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        opts = cfg.options
        dim = self.embed_dim
        if dim % opts.center:
            raise ConfigError(f"model.vscha.center: {opts.center} does not divide the embedding width {dim}")
        self.opts = opts
        self.video_mlp = nn.Sequential(nn.Linear(opts.max_frames, dim), nn.ReLU(inplace=True), nn.Linear(dim, dim))
        self.attention = AttentionPool(dim, opts.heads, opts.dropout)
        width = dim // opts.center
        self.weight_fc = nn.Sequential(nn.Linear(2 * width, 4 * width), nn.ReLU(inplace=True), nn.Linear(4 * width, 1))
        # VSC-HA trains CLIP's own logit scale, in CLIP's parameter group (clamped at ln 100).
        self.backbone.clip.logit_scale.requires_grad_(True)

    # ---- encoders ---------------------------------------------------------------------------
    def encode_video(self, frames: Tensor, frame_mask: Tensor) -> VideoFeatures:
        frame_mask = frame_mask.bool()
        check_frame_mask(frame_mask)
        length = frame_mask.shape[1]
        if length != self.opts.max_frames:
            raise ValueError(f"model.vscha.max_frames is {self.opts.max_frames}; this batch has {length} frame slots "
                             "(set data.max_frames to the same value)")
        embedded, _ = self.backbone.encode_frames(frames[frame_mask], with_patches=False)
        emb = scatter_frames(embedded, frame_mask)
        if self.opts.padding == "repeat_last":
            last = frame_mask.long().cumsum(1).clamp_min(1) - 1  # index of the latest real frame
            emb = emb.gather(1, last[..., None].expand_as(emb))
            frame_mask = torch.ones_like(frame_mask)
        return VideoFeatures(frames=emb, frame_mask=frame_mask)

    # ---- scores -----------------------------------------------------------------------------
    def adaptive_logits(self, text: Tensor, pooled: Tensor) -> Tensor:
        """The adaptive pool's chunk-weighted cosines: ``text [n, D]``, ``pooled [n, v, D]`` -> ``[n, v]``."""
        n, v, dim = pooled.shape
        chunks = self.opts.center
        t = text.view(n, 1, chunks, dim // chunks).expand(n, v, chunks, dim // chunks)
        p = pooled.view(n, v, chunks, dim // chunks)
        weight = self.weight_fc(torch.cat([t, p], dim=-1)).squeeze(-1)
        return ((l2norm(t) * l2norm(p)).sum(-1) * weight).sum(-1)

    def score_block(self, text: TextFeatures, video: VideoFeatures, names: tuple[str, ...]) -> dict[str, Tensor]:
        t, frames, mask = text.sentence, video.frames, video.frame_mask
        out: dict[str, Tensor] = {}
        if "frame_sentence" in names or "total" in names:
            pooled = self.attention(t, frames, mask)
            out["frame_sentence"] = torch.einsum("nd,nvd->nv", l2norm(t), l2norm(pooled))
            out["total"] = out["frame_sentence"]
        if "video_sentence" in names or "entity_word" in names:
            pooled = absolute_pool(t, frames, mask)
            out["video_sentence"] = torch.einsum("nd,nvd->nv", l2norm(t), l2norm(pooled))
            if "entity_word" in names:
                out["entity_word"] = self.adaptive_logits(t, pooled)
        return out

    @torch.no_grad()
    def ground_truth_leak_scores(self, text: TextFeatures, video: VideoFeatures, caption_of_video: Tensor,
                                 block_size: int = 256) -> Tensor:
        """The official evaluation's matrix ``[Nt, Nv]``, for comparison only: video ``j`` is
        pooled by text ``caption_of_video[j]`` (its own first caption: the ground truth) for
        every query, instead of by the query. Never use it to rank."""
        pooled = torch.cat([
            self.attention(text.sentence[caption_of_video[s:s + block_size]], video.frames[s:s + block_size],
                           video.frame_mask[s:s + block_size]).diagonal().T
            for s in range(0, len(video), block_size)])
        return (l2norm(text.sentence) @ l2norm(pooled).T).float()

    # ---- training ---------------------------------------------------------------------------
    def compress(self, text: Tensor, frames: Tensor, mask: Tensor) -> Tensor:
        """The VSC module: frames of video ``i`` perturbed by ``(1 - cos(t_i, v_f)) * exp(MLP) * U[0,1)``."""
        sims = torch.einsum("bd,btd->bt", l2norm(text), l2norm(frames))
        evidence = sims.masked_fill(~mask, 0.0)  # masked padding: no evidence (all slots count with repeat_last)
        std = torch.exp(self.video_mlp(evidence))[:, None, :]
        noise = torch.rand_like(frames)
        return frames - (1 - sims)[..., None] * std * noise

    def loss(self, text: TextFeatures, video: VideoFeatures) -> tuple[Tensor, dict[str, float]]:
        text, video = self.gather(text, video)
        t, frames, mask = text.sentence, video.frames, video.frame_mask
        if self.training:
            frames = self.compress(t, frames, mask)
        scale = self.backbone.clip.logit_scale.clamp(max=math.log(100.0)).exp()
        tn = l2norm(t)
        # absolute pool as official: row i is text i against video i pooled by text j
        absolute = absolute_pool(t, frames, mask)  # [texts, videos, D]
        sim_vsa = torch.einsum("id,jid->ij", tn, l2norm(absolute))
        sim_fsa = torch.einsum("id,ijd->ij", tn, l2norm(self.attention(t, frames, mask)))
        sim_ewa = self.adaptive_logits(t, absolute)
        # VSC-HA's CLIPLoss is the symmetric InfoNCE (mean of both directions)
        parts = {name: symmetric_infonce(sim, scale)
                 for name, sim in zip(self.score_names, (sim_vsa, sim_fsa, sim_ewa), strict=True)}
        opts = self.opts
        total = opts.alpha * parts["video_sentence"] + parts["frame_sentence"] + opts.beta * parts["entity_word"]
        return total, {k: float(v.detach()) for k, v in parts.items()}

    # ---- official checkpoints ---------------------------------------------------------------
    @classmethod
    def looks_like(cls, state: dict[str, Tensor]) -> bool:
        return {"Compression.VSC_module.video_mlp.0.weight", "Attention.cross_attn.q_proj.weight",
                "Adaptive.weight_fc.0.weight"} <= set(state)

    @classmethod
    def map_official(cls, state: dict[str, Tensor], cfg: ModelConfig) -> dict[str, Tensor]:
        """VSC-HA's ``{"epoch", "state_dict", ...}``: ``clip.*`` is a Hugging Face CLIPModel
        (an OpenAI-layout ``clip.*`` is accepted too), the rest the method's modules."""
        clip, rest = split_prefix(state, "clip.")
        if any(k.startswith(("text_model.", "vision_model.")) for k in clip):
            clip = hf_clip_to_openai(clip)
        mapped, _ = openai_clip_to_backbone(clip, prefix="")
        rest = {k: v for k, v in rest.items() if not k.startswith(UNUSED_OFFICIAL)}
        return {**mapped, **rename(rest, OFFICIAL_NAMES)}

