"""tvrkit's composable retrieval model (``model.method: custom``) and :func:`build_model`, which
builds whichever method a config names.

The composable model: encoders, one similarity head per enabled level, and the training loss.

Inference is two steps so that eval can cache: ``encode_text`` / ``encode_video`` (each modality
alone), then ``score`` (every text against every video, block by block). Training calls ``loss``
(or ``forward``, for DDP wrappers) on features of the local batch; it gathers them from every rank.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from tvrkit.errors import ConfigError
from tvrkit.models.config import LEVELS, ModelConfig
from tvrkit.models.encoder import Encoder
from tvrkit.models.features import TextFeatures, VideoFeatures
from tvrkit.models.heads import HEADS
from tvrkit.models.losses import decorrelation_loss, symmetric_infonce
from tvrkit.models.methods.base import Method
from tvrkit.models.momentum import MomentumContrast

if TYPE_CHECKING:
    from tvrkit.models.backbone import ClipBackbone


class RetrievalModel(Method):
    """``model.method: custom``: tvrkit's composable model. The CLIP backbone and temporal module
    (``encoder``) feed one similarity head per level with a positive weight; ``total`` is the
    weighted sum of the levels scored, and the loss the weighted sum of their InfoNCE terms."""

    name = "custom"

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg, build_backbone=False)
        self.score_names: tuple[str, ...] = cfg.levels.enabled()
        if not self.score_names:
            raise ConfigError(f"model.levels: every level has weight 0; give one of {', '.join(LEVELS)} a weight")
        self.encoder = Encoder(cfg)
        backbone = self.encoder.backbone
        dim = backbone.embed_dim
        # Disabled levels get no module at all: no wasted compute, no parameters without gradients.
        self.heads = nn.ModuleDict({name: HEADS[name](getattr(cfg.levels, name), dim) for name in self.score_names})
        self._needs_words = any(head.needs_words for head in self.heads.values())
        self._needs_patches = any(head.needs_patches for head in self.heads.values())
        loss = cfg.loss
        reads_frames = any(head.needs_frames for head in self.heads.values())
        if cfg.temporal.type != "meanP" and not (reads_frames or loss.momentum.enabled or loss.decorrelation_weight):
            raise ConfigError(
                f"model.temporal.type: {cfg.temporal.type} would train nothing: no enabled level reads frame "
                "embeddings (patch_word reads patch tokens only); use meanP or enable a frame-level term"
            )
        self.momentum = MomentumContrast(self.encoder, dim, loss.momentum) if loss.momentum.enabled else None
        if loss.temperature_init is None:
            init = float(backbone.clip.logit_scale.detach())
        else:
            init = math.log(1.0 / loss.temperature_init)
        names = self.score_names + (("momentum",) if self.momentum is not None else ())
        self.logit_scales = nn.ParameterDict({name: nn.Parameter(torch.tensor(init)) for name in names})
        self._max_log_scale = math.log(loss.max_logit_scale)

    @property
    def backbone_module(self) -> ClipBackbone:
        return self.encoder.backbone

    @property
    def needs_fine_scoring(self) -> bool:
        """A fine level is enabled, or the video-sentence level pools per text (xpool)."""
        levels = self.cfg.levels
        return any(name != "video_sentence" for name in self.score_names) or levels.video_sentence.pooling != "mean"

    # ---- encoding (cacheable) -------------------------------------------------------------
    def encode_text(self, tokens: Tensor) -> TextFeatures:
        """``tokens [B, L]`` (open_clip tokenizer, L <= context_length) -> :class:`TextFeatures`."""
        text = self.encoder.encode_text(tokens, words=self._needs_words)
        if self.momentum is not None and self.training:
            text = dataclasses.replace(text, key=self.momentum.text_keys(tokens))
        return text

    def encode_video(self, frames: Tensor, frame_mask: Tensor) -> VideoFeatures:
        """``frames [B, T, 3, H, W]`` (CLIP-normalised, ``image_size`` square), ``frame_mask [B, T]``
        -> :class:`VideoFeatures`."""
        video = self.encoder.encode_video(frames, frame_mask, patches=self._needs_patches)
        if self.momentum is not None and self.training:
            video = dataclasses.replace(video, key=self.momentum.video_keys(frames, frame_mask))
        return video

    # ---- scoring --------------------------------------------------------------------------
    def score_block(self, text: TextFeatures, video: VideoFeatures, names: tuple[str, ...]) -> dict[str, Tensor]:
        """Each requested level's head; ``total`` is the weighted sum of the levels requested."""
        levels = [name for name in names if name != "total"] or list(self.score_names)
        out = {name: self.heads[name](text, video) for name in levels}
        out["total"] = sum(self.cfg.levels.weight(name) * out[name] for name in levels)
        return out

    # ---- training -------------------------------------------------------------------------
    def logit_scale(self, name: str) -> Tensor:
        """The learnable inverse temperature of ``name``, clamped at ``loss.max_logit_scale``."""
        return self.logit_scales[name].clamp(max=self._max_log_scale).exp()

    def loss(self, text: TextFeatures, video: VideoFeatures) -> tuple[Tensor, dict[str, float]]:
        """Weighted sum of each enabled level's symmetric InfoNCE over the batch gathered from all
        ranks (row i of ``text`` matches row i of ``video``), plus momentum contrast and the
        decorrelation regulariser when enabled. Returns the loss and its parts as floats."""
        text, video = self.gather(text, video)
        levels = self.cfg.levels
        parts: dict[str, Tensor] = {}
        total = text.sentence.new_zeros((), dtype=torch.float32)
        for name in self.score_names:
            parts[name] = symmetric_infonce(self.heads[name](text, video), self.logit_scale(name))
            total = total + levels.weight(name) * parts[name]
        if self.momentum is not None and self.training:
            parts["momentum"] = self.momentum.loss(
                self.global_embeddings(text), self.global_embeddings(video), text.key, video.key,
                self.logit_scale("momentum"),
            )
            total = total + self.cfg.loss.momentum.weight * parts["momentum"]
            self.momentum.step(self.encoder, text.key, video.key)
        if self.cfg.loss.decorrelation_weight > 0:
            interaction = self.heads["frame_word"].interaction if "frame_word" in self.heads else None
            parts["decorrelation"] = decorrelation_loss(
                text, video, interaction, self.cfg.loss.decorrelation_off_diagonal
            )
            total = total + self.cfg.loss.decorrelation_weight * parts["decorrelation"]
        logs = {"loss": float(total.detach())}
        logs.update({name: float(value.detach()) for name, value in parts.items()})
        logs.update({f"logit_scale/{name}": float(self.logit_scale(name).detach()) for name in self.logit_scales})
        return total, logs


def build_model(cfg: ModelConfig) -> Method:
    """The model of ``cfg.method`` as ``cfg`` describes it (backbone weights loaded from
    ``cfg.backbone.pretrained`` if set)."""
    from tvrkit.models.methods import get_method

    return get_method(cfg.method)(cfg)
