"""HMMC (hierarchical matching + momentum contrast, TIP 2023), as github:cheetah003/HMMC computes
its MSR-VTT fine-tuning model (``modules/modeling.py`` BirdModel, ``main_task_retrieval.py``).

Encoders (``modules/module_cross.py``): CLIP's sentence embedding; CLIP's frame embeddings, a
temporal transformer over them (frame position embeddings, residual to its input:
CLIP4Clip's seqTransf, ``--use_temp``), the video vector = mean of the unit outputs.

Scores (``loose_similarity``, lines 207-229, at the fixed logit scale 100: HMMC copies CLIP's
``logit_scale`` as a plain tensor, never trained, clamped at 100):

- ``video_sentence`` = 100 cos(sentence, video vector);
- ``frame_sentence`` = mean of the ``top_frames`` largest 100 cos(sentence, raw CLIP frame)
  (``main_task_retrieval.py`` 332-336, ``--use_frame_fea``);
- ``total`` = their unweighted sum, what the official evaluation ranks by (512-513).

Fine-tune loss (665-709): ``0.85 * (CE + CE^T)(video) + 0.15 * mean_f (CE + CE^T)(frame f)``
over the gathered batch, CE the mean row cross-entropy of the 100-scaled similarities
(``CrossEn``), ``f`` every frame position of the raw CLIP frames.

Pre-training (``pretrain.enabled``; BirdPreTrainedModel, 286-308 and 369): momentum key
encoders (EMA updated before the keys are computed), queues of past video, text and frame keys,
and MoCo's loss at a fixed temperature: ``video_weight * VTM + frame_weight * FTM`` with
``VTM = c(v, t_k, Q_t) + c(t, v_k, Q_v)`` and ``FTM = mean_f c(t, f_k, Q_f) + c(f, t_k, Q_t)``
(:func:`~tvrkit.models.methods.hmmc.momentum.queue_contrast`). HMMC's frame-adjacency (FAM, with its
projector and predictor MLPs) and masked-language (MLM) terms are not implemented (docs/methods.md).

Padding: the official model has no frame mask (its loader always reads ``max_frames`` frames);
``padding: unmasked`` treats every frame slot as a frame (CLIP runs on padding too), the default
``masked`` excludes padding from attention keys, the mean, the top-k and the per-frame loss.

Features: ``TextFeatures.sentence``; ``VideoFeatures.frames`` the temporal transformer's output,
``raw_frames`` CLIP's frame embeddings, ``frame_mask`` (all true with ``padding: unmasked``);
while pre-training also ``key`` / ``frame_key`` from the momentum encoder.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tvrkit.errors import ConfigError
from tvrkit.models.backbone import ClipBackbone
from tvrkit.models.config import ModelConfig
from tvrkit.models.features import TextFeatures, VideoFeatures
from tvrkit.models.methods.base import Method
from tvrkit.models.methods.hmmc.momentum import MomentumContrast, queue_contrast
from tvrkit.models.methods.layouts import BACKBONE_PREFIX, rename, split_prefix
from tvrkit.models.ops import check_frame_mask, l2norm, scatter_frames, video_vector
from tvrkit.models.temporal import SeqTransf

TEXT_TOWER = ("token_embedding.", "positional_embedding", "transformer.", "ln_final.", "text_projection")
# BirdPreTrainedModel: queues as [dim, size] -> tvrkit's MomentumContrast buffers [size, dim]
PRETRAIN_QUEUES = {"queue_title_cross_ng": "momentum.text_queue", "queue_v_cross_ng": "momentum.video_queue",
                   "queue_frame_cross_ng": "momentum.frame_queue"}
PRETRAIN_ONLY = ("t_projector.", "t_projector_k.", "v_projector.", "v_projector_k.", "v_predictor.", "cls.",
                 "queue_tag_cross_ng", "queue_frame_proj_ng")


class HmmcEncoder(nn.Module):
    """CLIP plus HMMC's temporal transformer; both modalities alone (what eval caches and what
    the momentum encoder copies)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        opts = cfg.options
        self.backbone = ClipBackbone(cfg.backbone)
        self.unmasked = opts.padding == "unmasked"
        # HMMC's temporal transformer (module_cross): random init (PyTorch's defaults), 64-wide heads,
        # TF-style LayerNorm, always QuickGELU.
        self.temporal = SeqTransf(self.backbone, opts.temporal_layers, opts.max_positions, quick_gelu=True,
                                  init_from_text=False)

    def encode_text(self, tokens: Tensor) -> TextFeatures:
        sentence, _, _ = self.backbone.encode_text(tokens)
        return TextFeatures(sentence=sentence)

    def encode_video(self, frames: Tensor, frame_mask: Tensor) -> VideoFeatures:
        frame_mask = frame_mask.bool()
        check_frame_mask(frame_mask)
        if self.unmasked:
            frame_mask = torch.ones_like(frame_mask)
        embedded, _ = self.backbone.encode_frames(frames[frame_mask], with_patches=False)
        raw = scatter_frames(embedded, frame_mask)
        return VideoFeatures(frames=self.temporal(raw, frame_mask), frame_mask=frame_mask, raw_frames=raw)


def crossen_pair(logits: Tensor) -> Tensor:
    """HMMC's ``CrossEn(sim) + CrossEn(sim.T)``: both directions' mean cross-entropies, summed."""
    labels = torch.arange(logits.shape[0], device=logits.device)
    return F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)


class HMMC(Method):
    """``model.method: hmmc`` (see the module docstring for the math and what is stored)."""

    name = "hmmc"

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg, build_backbone=False)
        self.opts = opts = cfg.options
        self.encoder = HmmcEncoder(cfg)
        if opts.top_frames > opts.max_positions:
            raise ConfigError(f"model.hmmc.top_frames: {opts.top_frames} > max_positions {opts.max_positions}")
        self.momentum: MomentumContrast | None = None
        if opts.pretrain.enabled:
            pre = opts.pretrain
            self.momentum = MomentumContrast(self.encoder, self.embed_dim, pre.queue_size, pre.momentum,
                                             frames=pre.frames)

    @property
    def backbone_module(self) -> ClipBackbone:
        return self.encoder.backbone

    # ---- encoders ---------------------------------------------------------------------------
    def encode_text(self, tokens: Tensor) -> TextFeatures:
        text = self.encoder.encode_text(tokens)
        if self.momentum is not None and self.training:
            text = dataclasses.replace(text, key=self.momentum.text_keys(tokens))
        return text

    def encode_video(self, frames: Tensor, frame_mask: Tensor) -> VideoFeatures:
        video = self.encoder.encode_video(frames, frame_mask)
        if self.momentum is not None and self.training:
            keys = self.momentum.video_features(frames, frame_mask)
            video = dataclasses.replace(video, key=video_vector(keys.frames, keys.frame_mask),
                                        frame_key=l2norm(keys.raw_frames))
        return video

    def global_embeddings(self, features: TextFeatures | VideoFeatures) -> Tensor:
        if isinstance(features, TextFeatures):
            return l2norm(features.sentence)
        return video_vector(features.frames, features.frame_mask)

    # ---- scores -----------------------------------------------------------------------------
    def frame_scores(self, text: Tensor, raw_frames: Tensor, mask: Tensor) -> Tensor:
        """Mean of the ``top_frames`` best ``logit_scale * cos`` over each video's valid frames
        (all of them when a video has fewer): ``[n, D] x [v, T, D] -> [n, v]``."""
        sims = self.opts.logit_scale * torch.einsum("nd,vtd->nvt", l2norm(text), l2norm(raw_frames))
        k = min(self.opts.top_frames, sims.shape[-1])
        top = sims.masked_fill(~mask[None], float("-inf")).topk(k, dim=-1).values
        counted = mask.sum(1).clamp(max=k)  # [v]
        keep = torch.arange(k, device=mask.device)[None, :] < counted[:, None]  # [v, k]
        return top.masked_fill(~keep[None], 0.0).sum(-1) / counted[None]

    def score_block(self, text: TextFeatures, video: VideoFeatures, names: tuple[str, ...]) -> dict[str, Tensor]:
        t = l2norm(text.sentence)
        out = {"video_sentence": self.opts.logit_scale * t @ video_vector(video.frames, video.frame_mask).T}
        total = out["video_sentence"]
        if self.opts.frame_features and ("frame_sentence" in names or "total" in names):
            out["frame_sentence"] = self.frame_scores(text.sentence, video.raw_frames, video.frame_mask)
            total = total + out["frame_sentence"]
        out["total"] = total
        return out

    # ---- training ---------------------------------------------------------------------------
    def forward(self, tokens: Tensor, frames: Tensor, frame_mask: Tensor) -> tuple[Tensor, dict[str, float]]:
        if self.momentum is not None and self.training:
            self.momentum.update(self.encoder)  # HMMC: EMA first, then this step's keys
        return super().forward(tokens, frames, frame_mask)

    def frame_loss(self, text: Tensor, raw_frames: Tensor, mask: Tensor) -> Tensor:
        """Mean over frame positions of the symmetric CrossEn of ``text`` against frame ``f`` of
        every video; with masking, position ``f`` contrasts only the videos that have a frame
        there, weighted by how many do (the official mean when no video is padded)."""
        t, frames = l2norm(text), l2norm(raw_frames)
        total = frames.new_zeros(())
        for f in range(frames.shape[1]):
            rows = mask[:, f]
            count = int(rows.sum())
            if count:
                total = total + count * crossen_pair(self.opts.logit_scale * t[rows] @ frames[rows, f].T)
        return total / mask.sum()

    def loss(self, text: TextFeatures, video: VideoFeatures) -> tuple[Tensor, dict[str, float]]:
        text, video = self.gather(text, video)
        if self.momentum is not None and self.training:
            return self.pretrain_loss(text, video)
        t = l2norm(text.sentence)
        video_loss = crossen_pair(self.opts.logit_scale * t @ video_vector(video.frames, video.frame_mask).T)
        parts = {"video_sentence": video_loss}
        total = self.opts.video_weight * video_loss
        if self.opts.frame_features:
            parts["frame_sentence"] = self.frame_loss(text.sentence, video.raw_frames, video.frame_mask)
            total = total + self.opts.frame_weight * parts["frame_sentence"]
        return total, {k: float(v.detach()) for k, v in parts.items()}

    def pretrain_loss(self, text: TextFeatures, video: VideoFeatures) -> tuple[Tensor, dict[str, float]]:
        """HMMC's VTM and FTM momentum-queue terms, then this step's keys enter the queues."""
        pre, moco = self.opts.pretrain, self.momentum
        assert moco is not None
        tau = pre.temperature
        frames, mask = video.raw_frames, video.frame_mask
        if frames.shape[1] != pre.frames:
            raise ValueError(f"model.hmmc.pretrain.frames is {pre.frames}; this batch has {frames.shape[1]} "
                             "frame slots")
        vtm = (queue_contrast(video_vector(video.frames, mask), text.key, moco.text_queue, tau)
               + queue_contrast(text.sentence, video.key, moco.video_queue, tau))
        ftm = frames.new_zeros(())
        for f in range(frames.shape[1]):  # official: every slot (it has no padding); masked: valid rows only
            rows = mask[:, f]
            ftm = ftm + (queue_contrast(text.sentence[rows], video.frame_key[rows, f], moco.frame_queue, tau)
                         + queue_contrast(frames[rows, f], text.key[rows], moco.text_queue, tau))
        ftm = ftm / frames.shape[1]
        moco.enqueue(text.key, video.key, video.frame_key)
        total = pre.video_weight * vtm + pre.frame_weight * ftm
        return total, {"vtm": float(vtm.detach()), "ftm": float(ftm.detach())}

    # ---- official checkpoints ---------------------------------------------------------------
    @classmethod
    def looks_like(cls, state: dict[str, Tensor]) -> bool:
        return {"text_encoder.token_embedding.weight", "visual_encoder.visual.conv1.weight",
                "visual_encoder.frame_position_embeddings.weight"} <= set(state)

    @classmethod
    def map_official(cls, state: dict[str, Tensor], cfg: ModelConfig) -> dict[str, Tensor]:
        """BirdModel's ``state_dict`` (fine-tuned) or BirdPreTrainedModel's (pre-trained, the
        fine-tuning run's ``--init_model``): ``text_encoder.*`` (CLIP's text tower),
        ``visual_encoder.visual.*`` (its image tower), the temporal transformer. HMMC keeps no
        logit scale (fixed 100). Pre-training's key encoders and video/text/frame queues load
        into the momentum module when ``pretrain.enabled``, and are dropped otherwise, as
        BirdModel drops them; FAM's projectors, the MLM head and the tag/frame-projection queues
        are always dropped (not implemented)."""
        mapped = _map_encoder(state, "", "encoder.")
        key_encoder = _map_encoder(state, "_k", "momentum.key_encoder.")
        if cfg.options.pretrain.enabled:
            mapped.update(key_encoder)
            mapped.update({target: state[source].T for source, target in PRETRAIN_QUEUES.items() if source in state})
            if "queue_ptr" in state:
                mapped["momentum.pointer"] = state["queue_ptr"].reshape(())
        dropped = (*PRETRAIN_ONLY, *PRETRAIN_QUEUES, "queue_ptr")
        rest = {k: v for k, v in state.items()
                if not k.startswith(("text_encoder.", "visual_encoder.", "text_encoder_k.", "visual_encoder_k.",
                                     *dropped))}
        return {**mapped, **rest}  # anything left over is named by the strict load


def _map_encoder(state: dict[str, Tensor], suffix: str, target: str) -> dict[str, Tensor]:
    """HMMC's ``text_encoder{suffix}.*`` and ``visual_encoder{suffix}.*`` -> :class:`HmmcEncoder` keys
    under ``target``."""
    backbone = target + BACKBONE_PREFIX
    text, _ = split_prefix(state, f"text_encoder{suffix}.")
    visual, _ = split_prefix(state, f"visual_encoder{suffix}.")
    # keys outside CLIP's text tower keep their names, so that the strict load reports them
    mapped = {(backbone + k if k.startswith(TEXT_TOWER) else f"text_encoder{suffix}." + k): v for k, v in text.items()}
    mapped.update(rename({f"visual_encoder{suffix}." + k: v for k, v in visual.items()}, {
        f"visual_encoder{suffix}.visual.": backbone + "visual.",
        f"visual_encoder{suffix}.temporal_transformer.": target + "temporal.transformer.",
        f"visual_encoder{suffix}.frame_position_embeddings.weight": target + "temporal.position.weight"}))
    if text or visual:
        mapped[backbone + "logit_scale"] = torch.log(torch.tensor(100.0))  # unused by HMMC: ln of its fixed scale
    return mapped
