"""The interface every retrieval method implements, and the mechanisms they share.

A method is an ``nn.Module`` with two cacheable encoders (``encode_text``, ``encode_video``: each
modality alone, so eval and the index embed every caption and video once), a scorer over a block
of texts x videos (``score_block``: the method's named partial scores and ``total``, the score its
official evaluation ranks by) and its official training loss. The base class turns the block
scorer into a full ``[Nt, Nv]`` matrix, gathers training batches across ranks, and defines how
official checkpoints are recognised and mapped (``looks_like`` / ``map_official``), which
:func:`tvrkit.models.checkpoints.load_checkpoint` uses.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import Tensor, nn

from tvrkit import dist
from tvrkit.errors import ConfigError
from tvrkit.models.config import ModelConfig
from tvrkit.models.features import TextFeatures, VideoFeatures
from tvrkit.models.ops import l2norm, video_vector

if TYPE_CHECKING:
    from tvrkit.models.backbone import ClipBackbone


class Method(nn.Module, abc.ABC):
    """Base class of ``model.method``. Subclasses set :attr:`name` and :attr:`score_names`, build
    their modules in ``__init__`` (after ``super().__init__(cfg)``, which builds ``self.backbone``
    unless ``build_backbone=False``) and implement the abstract methods."""

    name: ClassVar[str] = ""
    #: the partial scores :meth:`score` returns besides ``total`` (eval reports metrics for each)
    score_names: ClassVar[tuple[str, ...]] = ()
    #: texts (and videos) per block in :meth:`score`; text-conditioned methods use smaller blocks
    default_block_size: ClassVar[int] = 128
    #: the eval's coarse stage (dot products of :meth:`global_embeddings`) is what ``total`` ranks
    #: by, so no fine pass is needed (CLIP4Clip); otherwise eval re-ranks with :meth:`score`
    total_is_global: ClassVar[bool] = False
    #: top-K re-ranked by ``total`` when eval is coarse-to-fine and the config names no K
    default_rerank_k: ClassVar[int | None] = None
    #: what eval's coarse stage ranks by (the dot products of :meth:`global_embeddings`), for metrics.json
    coarse_level: ClassVar[str] = "global (unit sentence . mean-pooled video vectors)"

    def __init__(self, cfg: ModelConfig, build_backbone: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        if build_backbone:
            from tvrkit.models.backbone import ClipBackbone

            self.backbone = ClipBackbone(cfg.backbone)

    # ---- what every method exposes --------------------------------------------------------
    @property
    def backbone_module(self) -> ClipBackbone:
        """The CLIP towers (the optimiser gives them ``coef_lr``)."""
        return self.backbone

    @property
    def image_size(self) -> int:
        return self.backbone_module.image_size

    @property
    def context_length(self) -> int:
        return self.backbone_module.context_length

    @property
    def embed_dim(self) -> int:
        return self.backbone_module.embed_dim

    @property
    def levels(self) -> tuple[str, ...]:
        """The partial scores (eval reports metrics for each of them and for ``total``)."""
        return self.score_names

    @property
    def needs_fine_scoring(self) -> bool:
        """False when ranking by the global embeddings alone already ranks by ``total``."""
        return not self.total_is_global

    # ---- encoders and scores (subclasses) ---------------------------------------------------
    @abc.abstractmethod
    def encode_text(self, tokens: Tensor) -> TextFeatures:
        """``tokens [N, L]`` (CLIP BPE ids, start ... end, zero padded) -> :class:`TextFeatures`."""

    @abc.abstractmethod
    def encode_video(self, frames: Tensor, frame_mask: Tensor) -> VideoFeatures:
        """``frames [V, T, 3, S, S]`` (CLIP-normalised), ``frame_mask [V, T]`` -> :class:`VideoFeatures`."""

    @abc.abstractmethod
    def score_block(self, text: TextFeatures, video: VideoFeatures, names: tuple[str, ...]) -> dict[str, Tensor]:
        """Scores ``[n, v]`` of one block for at least each of ``names`` (partial score names
        and/or ``"total"``)."""

    @abc.abstractmethod
    def loss(self, text: TextFeatures, video: VideoFeatures) -> tuple[Tensor, dict[str, float]]:
        """The official training loss of a local batch (row i of ``text`` matches row i of
        ``video``); gather across ranks with :meth:`gather` first. Returns the loss and its parts."""

    def global_embeddings(self, features: TextFeatures | VideoFeatures) -> Tensor:
        """Unit vectors whose dot products rank the whole gallery in eval's coarse stage and in
        an index: the sentence vector and CLIP4Clip's mean-pooled video vector by default."""
        if isinstance(features, TextFeatures):
            return l2norm(features.sentence)
        return video_vector(features.frames, features.frame_mask)

    def score(
        self,
        text: TextFeatures,
        video: VideoFeatures,
        levels: Sequence[str] | None = None,
        block_size: int | None = None,
    ) -> dict[str, Tensor]:
        """``[Nt, Nv]`` float32 scores of every text with every video for each requested partial
        score (default: all) and ``total``, computed ``block_size`` texts x videos at a time. Call
        under ``torch.inference_mode()`` for evaluation."""
        names = self.score_names if levels is None else tuple(levels)
        unknown = [n for n in names if n not in self.score_names]
        if unknown or not names:
            raise ValueError(f"score(s) {unknown or '[]'} cannot be scored; enabled: {', '.join(self.score_names)}")
        names = names + ("total",)
        size = block_size or self.default_block_size
        device = text.sentence.device
        out = {n: torch.empty(len(text), len(video), device=device) for n in names}
        for t0 in range(0, len(text), size):
            text_block = text[t0 : t0 + size]
            for v0 in range(0, len(video), size):
                block = self.score_block(text_block, video[v0 : v0 + size], names)
                for n in names:
                    out[n][t0 : t0 + size, v0 : v0 + size] = block[n].float()
        return out

    # ---- training ---------------------------------------------------------------------------
    def gather(self, text: TextFeatures, video: VideoFeatures) -> tuple[TextFeatures, VideoFeatures]:
        """The batch of every rank, with gradients flowing back to this rank's rows."""
        return text.map(dist.all_gather_with_grad), video.map(dist.all_gather_with_grad)

    def forward(self, tokens: Tensor, frames: Tensor, frame_mask: Tensor) -> tuple[Tensor, dict[str, float]]:
        """Encode a training batch and return :meth:`loss` (the entry point for DDP wrappers)."""
        return self.loss(self.encode_text(tokens), self.encode_video(frames, frame_mask))

    # ---- official checkpoints ---------------------------------------------------------------
    @classmethod
    def looks_like(cls, state: dict[str, Tensor]) -> bool:
        """Whether ``state`` (an official checkpoint's state dict, DDP prefix removed) has this
        method's signature keys."""
        return False

    @classmethod
    def map_official(cls, state: dict[str, Tensor], cfg: ModelConfig) -> dict[str, Tensor]:
        """``state`` in the official code's key layout -> this module's ``state_dict`` keys."""
        raise ConfigError(f"model.method {cls.name}: there is no official checkpoint layout to load")
