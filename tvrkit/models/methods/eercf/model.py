"""EERCF (Tian et al., AAAI 2024): two-stage text-to-video retrieval, as adxcreative/EERCF computes it.

The first stage ranks the whole gallery by ``coarse``: the sentence against the mean-pooled video
vector through a learned projection ``W`` (``global_mat_weight``). The second stage re-scores each
query's top K (50) with ``total``, the fusion the official evaluation hard-codes:

    total = 0.8 weak_frame + 0.2 strong_frame + 0.2 weak_patch + 0.5 video

- ``video``: the coarse score itself (the official fusion names the same logits its video term);
- ``weak_frame``: sentence-frame similarities weighted by their softmax over frames (temperature
  0.01), mixed across frame positions by a learned ``[max_frames, max_frames]`` matrix;
- ``strong_frame``: the temporal module's frames pooled with weights from the sentence (softmax over
  frames, temperature 0.1), one pooled vector per (text, video) pair at evaluation;
- ``weak_patch``: sentence-patch similarities weighted by their softmax over all patches of all
  frames (temperature 0.01).

Every score is ``logit_scale *`` a similarity of unit vectors (CLIP's own, clamped at 100 as the
official training loop clamps it). Training uses caption-conditioned pooling by each video's own
caption and adds Barlow-twins-style channel decorrelation of the sentence against three video
vectors (:meth:`EERCF.loss`). The official softmaxes let padding frames take part; option
``padding`` chooses between masking them (default) and the official behaviour.

Features (cacheable): ``TextFeatures.sentence``; ``VideoFeatures.frames`` = seqTransf output,
``raw_frames`` = CLIP frame embeddings (the weak/strong frame attention reads these), ``patches`` =
unit projected patch tokens ``[V, T, P, D]``, ``frame_mask``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tvrkit.errors import ConfigError
from tvrkit.models.config import ModelConfig
from tvrkit.models.features import TextFeatures, VideoFeatures
from tvrkit.models.losses import channel_correlation, decorrelation_penalty, symmetric_infonce
from tvrkit.models.methods.base import Method
from tvrkit.models.methods.clip4clip.model import clip_logit_scale, map_clip_and_temporal
from tvrkit.models.ops import check_frame_mask, l2norm, masked_softmax, scatter_frames, video_vector
from tvrkit.models.temporal import build_temporal

# Temperatures the official model hard-codes (modules/modeling_fineclip_patches_cdcl.py).
WEAK_FRAME_TEMPERATURE = 0.01
STRONG_FRAME_TEMPERATURE = 0.1
WEAK_PATCH_TEMPERATURE = 0.01
#: EERCF's own matrices in the official state dict -> tvrkit's names
OFFICIAL_KEYS = {"global_mat_weight": "global_weight", "frame_logit_weight": "frame_weight"}


class EERCF(Method):
    """EERCF's model; see the module docstring for the scores and the features it stores."""

    name = "eercf"

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        self.opts = cfg.options
        if self.opts.temporal.type != "seqTransf":
            raise ConfigError("model.eercf.temporal.type: eercf needs seqTransf (the official --sim_header seqTransf)")
        self.temporal = build_temporal(self.opts.temporal, self.backbone)  # CLIP4Clip's transformerClip, 77 positions
        self.global_weight = nn.Parameter(torch.eye(self.embed_dim))
        self.frame_weight = nn.Parameter(torch.eye(self.opts.max_frames))
        # The official scores use CLIP's own (trained) logit scale, in the backbone's lr group.
        self.backbone.clip.logit_scale.requires_grad_(True)

    @property
    def official_padding(self) -> bool:
        return self.opts.padding == "official"

    def logit_scale(self) -> Tensor:
        return clip_logit_scale(self.backbone)

    # ---- encoders -------------------------------------------------------------------------
    def encode_video(self, frames: Tensor, frame_mask: Tensor) -> VideoFeatures:
        frame_mask = frame_mask.bool()
        check_frame_mask(frame_mask)
        batch, length = frame_mask.shape
        budget = self.opts.max_frames
        if length > budget:
            raise ValueError(f"{length} frames per video exceed model.eercf.max_frames={budget}")
        if self.official_padding:
            # The official loader pads every video to max_frames with all-zero frames, and CLIP encodes them.
            frames = frames * frame_mask[:, :, None, None, None].to(frames.dtype)
            frames = F.pad(frames, (0, 0, 0, 0, 0, 0, 0, budget - length))
            frame_mask = F.pad(frame_mask, (0, budget - length))
            pooled, patches = self.backbone.encode_frames(frames.flatten(0, 1), with_patches=True)
            raw = pooled.reshape(batch, budget, -1)
            patches = patches.reshape(batch, budget, *patches.shape[1:])
        else:  # only real frames go through CLIP; padding stays zero and is masked in every score
            pooled, real_patches = self.backbone.encode_frames(frames[frame_mask], with_patches=True)
            raw, patches = scatter_frames(pooled, frame_mask), scatter_frames(real_patches, frame_mask)
        return VideoFeatures(
            frames=self.temporal(raw, frame_mask), frame_mask=frame_mask, patches=l2norm(patches), raw_frames=raw
        )

    def global_embeddings(self, features: TextFeatures | VideoFeatures) -> Tensor:
        """The coarse stage's vectors: ``unit sentence @ W`` for texts, the unit mean-pooled video
        vector for videos; their dot product is ``coarse / logit_scale``. Text vectors are not unit
        length (``W`` is learned), which changes no text->video ranking."""
        if isinstance(features, TextFeatures):
            return l2norm(features.sentence) @ self.global_weight.to(features.sentence.dtype)
        return video_vector(features.frames, features.frame_mask)

    # ---- scores ---------------------------------------------------------------------------
    def _softmax_mask(self, video: VideoFeatures) -> Tensor:
        """Frames the frame and patch softmaxes see: the real ones, or every position (official)."""
        mask = video.frame_mask
        return torch.ones_like(mask) if self.official_padding else mask

    def _weak_frame(self, sim: Tensor, mask: Tensor) -> Tensor:
        """``sim [n, v, T]`` (sentence x CLIP frames) -> weak frame similarity ``[n, v]``."""
        length = sim.shape[-1]
        attention = masked_softmax(sim / WEAK_FRAME_TEMPERATURE, mask[None])
        mixed = attention @ self.frame_weight[:length, :length].to(sim.dtype)
        return (sim.masked_fill(~mask[None], 0.0) * mixed).sum(-1)

    def _patch_attention(self, sentence: Tensor, patches: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Sentence-patch similarities ``[n, v, T*P]`` and their softmax over every patch of the video."""
        sim = torch.einsum("nd,vtpd->nvtp", sentence, patches.to(sentence.dtype)).flatten(2)
        patch_mask = mask[:, :, None].expand(-1, -1, patches.shape[2]).flatten(1)
        return sim, masked_softmax(sim / WEAK_PATCH_TEMPERATURE, patch_mask[None])

    @staticmethod
    def _strong_frame(sentence: Tensor, sim: Tensor, frames: Tensor, mask: Tensor) -> Tensor:
        """Per pair: the unit frames ``[v, T, D]`` pooled by softmax(sim / 0.1), made unit, against the
        sentence. Computed as ``w.(s.f) / sqrt(w' G w)`` with the frames' Gram matrix ``G``, the same
        number without materialising one pooled vector per pair."""
        weights = masked_softmax(sim / STRONG_FRAME_TEMPERATURE, mask[None])
        numerator = (weights * torch.einsum("nd,vtd->nvt", sentence, frames)).sum(-1)
        gram = torch.einsum("vtd,vud->vtu", frames, frames)
        norm2 = (torch.einsum("nvt,vtu->nvu", weights, gram) * weights).sum(-1)
        return numerator / norm2.clamp_min(1e-24).sqrt()

    def score_block(self, text: TextFeatures, video: VideoFeatures, names: tuple[str, ...]) -> dict[str, Tensor]:
        wanted = set(self.score_names) if "total" in names else set(names)
        sentence = l2norm(text.sentence.float())
        scale = self.logit_scale().float()
        out: dict[str, Tensor] = {}
        if wanted & {"coarse", "video"}:
            vectors = video_vector(video.frames.float(), video.frame_mask)
            out["coarse"] = out["video"] = scale * (sentence @ self.global_weight.float()) @ vectors.T
        mask = self._softmax_mask(video)
        if wanted & {"weak_frame", "strong_frame"}:
            sim = torch.einsum("nd,vtd->nvt", sentence, l2norm(video.raw_frames.float()))
            out["weak_frame"] = scale * self._weak_frame(sim, mask)
            out["strong_frame"] = scale * self._strong_frame(sentence, sim, l2norm(video.frames.float()), mask)
        if "weak_patch" in wanted:
            sim, attention = self._patch_attention(sentence, video.patches.float(), mask)
            out["weak_patch"] = scale * (sim * attention).sum(-1)
        if "total" in names:
            o = self.opts
            out["total"] = (
                o.fusion_weak_frame * out["weak_frame"]
                + o.fusion_strong_frame * out["strong_frame"]
                + o.fusion_weak_patch * out["weak_patch"]
                + o.fusion_video * out["video"]
            )
        return out

    # ---- training -------------------------------------------------------------------------
    def _decorrelation(self, sentence: Tensor, vectors: Tensor) -> Tensor:
        o = self.opts
        corr = channel_correlation(sentence, vectors, sentence.new_ones(len(sentence)), len(sentence))
        return o.cdcl_on_diagonal * decorrelation_penalty(corr, o.cdcl_off_diagonal / o.cdcl_on_diagonal)

    def loss(self, text: TextFeatures, video: VideoFeatures) -> tuple[Tensor, dict[str, float]]:
        """main_eercf.train_epoch's loss on the batch gathered from every rank: symmetric
        cross-entropy of a weak matrix (video, weak frame, weak patch logits) and of a strong one
        (frames, and patches when weighted, pooled by each video's own caption with detached
        weights), plus the weighted channel decorrelation of the sentence against the video vector,
        the caption-pooled frames (and patches)."""
        text, video = self.gather(text, video)
        o = self.opts
        sentence = l2norm(text.sentence.float())
        scale = self.logit_scale()
        mask = self._softmax_mask(video)
        vectors = video_vector(video.frames.float(), video.frame_mask)
        frames = l2norm(video.frames.float())
        sim = torch.einsum("nd,vtd->nvt", sentence, l2norm(video.raw_frames.float()))
        patch_sim, patch_attention = self._patch_attention(sentence, video.patches.float(), mask)
        weak = scale * (
            o.video_weight * (sentence @ self.global_weight) @ vectors.T
            + o.weak_frame_weight * self._weak_frame(sim, mask)
            + o.weak_patch_weight * (patch_sim * patch_attention).sum(-1)
        )
        own = torch.arange(len(sentence), device=sentence.device)
        weights = masked_softmax(sim[own, own].detach() / STRONG_FRAME_TEMPERATURE, mask)
        pooled = {"video": vectors, "frame": l2norm((weights[..., None] * frames).sum(1))}
        strong = o.strong_frame_weight * scale * sentence @ pooled["frame"].T
        if o.strong_patch_weight or o.cdcl_patch_weight:
            patch_weights = patch_attention[own, own].detach()
            pooled["patch"] = l2norm((patch_weights[..., None] * video.patches.float().flatten(1, 2)).sum(1))
            strong = strong + o.strong_patch_weight * scale * sentence @ pooled["patch"].T
        one = scale.new_ones(())
        weak_loss, strong_loss = symmetric_infonce(weak, one), symmetric_infonce(strong, one)
        cdcl_weights = {"video": o.cdcl_video_weight, "frame": o.cdcl_frame_weight, "patch": o.cdcl_patch_weight}
        cdcl = sum(cdcl_weights[n] * self._decorrelation(sentence, v) for n, v in pooled.items())
        total = o.weak_loss_weight * weak_loss + o.strong_loss_weight * strong_loss + o.cdcl_loss_weight * cdcl
        logs = {"loss/weak": float(weak_loss.detach()), "loss/strong": float(strong_loss.detach()),
                "loss/cdcl": float(cdcl.detach()), "logit_scale": float(scale.detach())}
        return total, logs

    # ---- official checkpoints -------------------------------------------------------------
    @classmethod
    def looks_like(cls, state: dict[str, Tensor]) -> bool:
        # X-CLIP, which EERCF's model descends from, has the same two matrices and its fine-grained ones too
        keys = set(state)
        return {"global_mat_weight", "frame_logit_weight", "frame_position_embeddings.weight"} <= keys and not (
            {"local_mat_weight", "word_logit_weight"} & keys)

    @classmethod
    def map_official(cls, state: dict[str, Tensor], cfg: ModelConfig) -> dict[str, Tensor]:
        """``XCLIP.state_dict()`` (main_eercf.save_model) -> this module's keys."""
        return map_clip_and_temporal(state, OFFICIAL_KEYS)
