"""UCoFiA (Wang, Sung, Cheng, Bertasius, Bansal: "Unified Coarse-to-Fine Alignment for Video-Text
Retrieval", ICCV 2023) as its official training code computes it (github:Ziyang412/UCoFiA,
``train/modules/modeling_ucofia.py`` ``_loose_similarity``; docs/methods.md lists the deviations).

Three levels, each from cached features (``s`` the unit sentence, ``w_l`` the unit words, ``f_t``
the unit raw CLIP frames, ``v`` the unit mean of the unit temporal-module frames, ``p_m`` the CLS
and selected patch tokens of every frame, *not* normalised; ``A``, ``B``... learned matrices;
``pool(x, W) = sum(x * softmax(softmax(x / 0.01) W / 0.01))`` over one axis)::

    video_sentence = scale * (s A) . (v B)                           A, B: D x D, identity init
    frame_sentence = scale * pool_t(s . f_t, W_frame)                W_frame: T x T
    patch_word     = (pool_m(pool_l(c_lm, W_word), W_pix2)           c_lm = (w_l L1) . (p_m L2)
                      + pool_l(pool_m(c_lm, W_pix), W_word2)) / 2     W_pix*: 4T x 4T, W_word*: L x L
    total          = (video_sentence + frame_sentence + patch_word) / 3

The training loss is one symmetric cross-entropy on ``total`` over the gathered batch. Padding
takes part as the official code lets it: every caption is zero-padded to ``max_words`` tokens and
every video to ``max_frames`` zero frames, and the frame and patch-word levels score those
positions like real ones (only the video level and the temporal module use the frame mask).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tvrkit.errors import ConfigError
from tvrkit.models.config import ModelConfig
from tvrkit.models.features import TextFeatures, VideoFeatures
from tvrkit.models.losses import symmetric_infonce
from tvrkit.models.methods.base import Method
from tvrkit.models.methods.clip4clip.model import clip_logit_scale
from tvrkit.models.methods.layouts import openai_clip_to_backbone, rename
from tvrkit.models.methods.ucofia import LEVELS
from tvrkit.models.methods.ucofia.ops import PatchShift, TokenSelector
from tvrkit.models.ops import check_frame_mask, l2norm, video_vector
from tvrkit.models.temporal import build_temporal

TEMPERATURE = 1e-2  # of both softmaxes of every learned aggregation (hard-coded upstream)
# matrices the official model builds but never uses (dropped from official checkpoints)
UNUSED_OFFICIAL = ("word_logit_weight", "frame_mat_weight", "frame_mat_weight2", "word_mat_weight_for_pixel")
# (name, size) of the learned matrices; sizes: D embedding, T frames, L words, M = T * (topk + 1)
MATRICES = (
    ("global_mat_weight", "D"), ("global_mat_weight_1", "D"), ("frame_logit_weight", "T"),
    ("local_mat_weight", "D"), ("local_mat_weight1", "D"), ("word_mat_weight", "L"),
    ("word_mat_weight2", "L"), ("pixel_mat_weight", "M"), ("pixel_mat_weight2", "M"),
)


def nested_softmax_pool(sim: Tensor, weight: Tensor, dim: int) -> Tensor:
    """UCoFiA's learned aggregation of ``sim`` over ``dim``: the weights are
    ``softmax(softmax(sim / 0.01) @ weight / 0.01)`` along that axis."""
    x = sim.movedim(dim, -1)
    attn = torch.softmax(torch.softmax(x / TEMPERATURE, dim=-1) @ weight / TEMPERATURE, dim=-1)
    return (attn * x).sum(-1)


class UCoFiA(Method):
    """``model.method: ucofia``. Features it stores: ``TextFeatures.sentence`` (end token, projected),
    ``words [N, max_words, D]`` (every token, padding included); ``VideoFeatures.raw_frames``
    (CLIP frame embeddings, the frame level), ``frames`` (after the temporal module, the video
    level), ``patches [V, max_frames, topk + 1, D]`` (each frame's CLS and selected patches, as
    projected, not normalised: the patch-word level)."""

    name = "ucofia"

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        opts = cfg.options
        self.opts = opts
        dim = self.backbone.embed_dim
        if opts.max_words > self.backbone.context_length:
            raise ConfigError(f"model.ucofia.max_words: {opts.max_words} exceeds the text tower's "
                              f"{self.backbone.context_length} positions")
        self.temporal = build_temporal(opts.temporal, self.backbone)  # CLIP4Clip's transformerClip, 77 positions
        sizes = {"D": dim, "T": opts.max_frames, "L": opts.max_words, "M": opts.max_frames * (opts.topk + 1)}
        for name, size in MATRICES:
            self.register_parameter(name, nn.Parameter(torch.eye(sizes[size])))
        self.visual_token_selector = TokenSelector(dim, opts.topk, opts.num_samples, opts.sigma, opts.eval_noise_seed)
        # UCoFiA trains CLIP's own logit scale (with the backbone's lr, as the official "clip." group)
        self.backbone.clip.logit_scale.requires_grad_(True)
        self.patch_shift = PatchShift(opts.shift_div)
        self.patch_shift.install(self.backbone.clip.visual.transformer.resblocks, opts.shift_layers)

    def scale(self) -> Tensor:
        """``exp(logit_scale)``, at most 100 (the official code clamps it there)."""
        return clip_logit_scale(self.backbone)

    # ---- encoders -----------------------------------------------------------------------------
    def encode_text(self, tokens: Tensor) -> TextFeatures:
        length = self.opts.max_words
        if tokens.shape[1] > length:
            raise ValueError(f"{tokens.shape[1]} tokens exceed model.ucofia.max_words={length} (data.max_words)")
        tokens = F.pad(tokens, (0, length - tokens.shape[1]))
        sentence, words, mask = self.backbone.encode_text(tokens)
        return TextFeatures(sentence=sentence, words=words, word_mask=mask)

    def encode_video(self, frames: Tensor, frame_mask: Tensor) -> VideoFeatures:
        count = self.opts.max_frames
        if frames.shape[1] > count:
            raise ValueError(f"{frames.shape[1]} frames exceed model.ucofia.max_frames={count} (data.num_frames)")
        check_frame_mask(frame_mask)
        pad = count - frames.shape[1]
        frame_mask = F.pad(frame_mask, (0, pad), value=False)
        # The official loaders leave missing frames at zero (after normalisation); so does this.
        frames = F.pad(frames, (0, 0, 0, 0, 0, 0, 0, pad)) * frame_mask[:, :, None, None, None].to(frames.dtype)
        videos = frames.shape[0]
        with self.patch_shift.frames(count):
            pooled, patches = self.backbone.encode_frames(frames.flatten(0, 1), with_patches=True)
        tokens = torch.cat([pooled.unsqueeze(1), patches], dim=1)
        selected = self.visual_token_selector(tokens)
        raw = pooled.view(videos, count, -1)
        return VideoFeatures(frames=self.temporal(raw, frame_mask), frame_mask=frame_mask,
                             patches=selected.view(videos, count, *selected.shape[1:]), raw_frames=raw)

    # ---- scores -------------------------------------------------------------------------------
    def score_block(self, text: TextFeatures, video: VideoFeatures, names: tuple[str, ...]) -> dict[str, Tensor]:
        wanted = set(names) | (set(LEVELS) if "total" in names else set())
        out: dict[str, Tensor] = {}
        sentence = l2norm(text.sentence)
        if "video_sentence" in wanted:
            vid = video_vector(video.frames, video.frame_mask)
            out["video_sentence"] = self.scale() * (sentence @ self.global_mat_weight) @ (
                vid @ self.global_mat_weight_1).T
        if "frame_sentence" in wanted:
            sims = torch.einsum("nd,vtd->vnt", sentence, l2norm(video.raw_frames))
            out["frame_sentence"] = self.scale() * nested_softmax_pool(sims, self.frame_logit_weight, -1).T
        if "patch_word" in wanted:
            out["patch_word"] = self._patch_word(l2norm(text.words), video.patches.flatten(1, 2))
        if "total" in names:
            out["total"] = (out["video_sentence"] + out["frame_sentence"] + out["patch_word"]) / 3
        return out

    def _patch_word(self, words: Tensor, patches: Tensor) -> Tensor:
        """``words [n, L, D]`` (unit), ``patches [v, M, D]`` -> ``[n, v]``."""
        sim = torch.einsum("nld,vmd->nlvm", words @ self.local_mat_weight, patches @ self.local_mat_weight1)
        per_patch = nested_softmax_pool(sim, self.word_mat_weight, 1)  # [n, v, M]
        per_word = nested_softmax_pool(sim, self.pixel_mat_weight, -1)  # [n, L, v]
        sentence_to_patches = nested_softmax_pool(per_patch, self.pixel_mat_weight2, -1)
        video_to_words = nested_softmax_pool(per_word, self.word_mat_weight2, 1)
        return (sentence_to_patches + video_to_words) / 2

    def postprocess_levels(self, post: str) -> dict[str, Any] | None:
        """How ``tvrkit eval --post`` normalises this method: SK-norm per level (each with its own
        querybank bias, the scores as the levels give them), then the mean (eval_t2v/main_ucofia.py).
        Other post-processors work on ``total`` (None)."""
        if post != "sk":
            return None
        scale = f"logit-scaled (x {float(self.scale().detach()):.4g})"
        return {"levels": {"video_sentence": scale, "frame_sentence": scale, "patch_word": "unscaled"},
                "weights": {name: 1.0 / 3 for name in LEVELS},
                "combine": "mean of the per-level SK-normalised scores (UCoFiA eval_t2v/main_ucofia.py)"}

    # ---- training -----------------------------------------------------------------------------
    def loss(self, text: TextFeatures, video: VideoFeatures) -> tuple[Tensor, dict[str, float]]:
        text, video = self.gather(text, video)
        # the official CrossEn on the rows and on the columns of total (already logit-scaled)
        total = self.score_block(text, video, ("total",))["total"]
        loss = symmetric_infonce(total, total.new_ones(()))
        return loss, {"loss": float(loss.detach()), "logit_scale": float(self.scale().detach())}

    # ---- official checkpoints -----------------------------------------------------------------
    @classmethod
    def looks_like(cls, state: dict[str, Tensor]) -> bool:
        return {"visual_token_selector.score_predictor.in_conv.0.weight", "pixel_mat_weight",
                "global_mat_weight"} <= set(state)

    @classmethod
    def map_official(cls, state: dict[str, Tensor], cfg: ModelConfig) -> dict[str, Tensor]:
        """train/main_ucofia.py's ``torch.save(model.state_dict())`` -> this module: CLIP under
        ``backbone.clip.`` (the patch-shift wrapper's ``attn.net.`` renamed back to ``attn.``),
        ``transformerClip`` / ``frame_position_embeddings`` (seqTransf) under ``temporal.``, the
        four never-used matrices dropped."""
        mapped, rest = openai_clip_to_backbone(state)
        mapped = {k.replace(".attn.net.", ".attn."): v for k, v in mapped.items()}
        rest = {k: v for k, v in rest.items() if k not in UNUSED_OFFICIAL}
        rest = rename(rest, {"frame_position_embeddings.weight": "temporal.position.weight",
                             "transformerClip.": "temporal.transformer."})
        return {**mapped, **rest}
