"""The interface every retrieval method implements, and the mechanisms they share.

How to add a method (nothing outside its package, its recipe configs and ``docs/methods.md``
changes):

1. Create the package ``tvrkit/models/methods/<name>/``. Its ``__init__.py`` stays torch-free and
   holds the module docstring (the math, citing the official file), the options dataclass (frozen;
   every field declared with :func:`tvrkit.config.options.option`: default, description, choices,
   bounds; the schema of ``model.<name>`` is generated from it) and the registration
   ``METHOD = MethodSpec(name, description, options, facts, model=".model:Class")``; the registry
   finds the package by itself (:mod:`tvrkit.models.methods`).
2. ``model.py`` holds the :class:`Method` subclass (``name = "<name>"``), its modules and its
   official-checkpoint mapping (:meth:`Method.looks_like` / :meth:`Method.map_official`). Read the
   options as ``cfg.options``; shared blocks are ``backbone``, ``temporal``, ``ops``, ``losses``,
   ``features`` and ``methods/layouts``.
3. The :class:`~tvrkit.models.methods.MethodFacts` say what generic code needs: the score levels
   and what each means, what the coarse (indexable) dot product is and whether its vectors are
   unit length, the default re-rank K, the levels post-processed one by one, the block size, the
   temporal module and a fixed frame budget. Eval's report, ``tvrkit export`` and a search index
   read these, never the method's options.
4. Add ``configs/<dataset>-<name>-vit-b32.yaml`` (the official command, flag for flag, quoted in
   its header) and a section of ``docs/methods.md``.

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
from tvrkit.models.methods import MethodFacts, method_facts
from tvrkit.models.ops import l2norm, video_vector

if TYPE_CHECKING:
    from tvrkit.models.backbone import ClipBackbone


class Method(nn.Module, abc.ABC):
    """Base class of ``model.method``. Subclasses set :attr:`name`, build their modules in
    ``__init__`` (after ``super().__init__(cfg)``, which builds ``self.backbone`` unless
    ``build_backbone=False``) and implement the abstract methods; their facts come from their
    package's :class:`~tvrkit.models.methods.MethodSpec`."""

    name: ClassVar[str] = ""

    def __init__(self, cfg: ModelConfig, build_backbone: bool = True) -> None:
        super().__init__()
        if cfg.method != self.name:
            raise ConfigError(f"model.method is {cfg.method}, but this is the {self.name} model")
        self.cfg = cfg
        self.facts: MethodFacts = method_facts(cfg)
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
    def score_names(self) -> tuple[str, ...]:
        """The partial scores :meth:`score` returns besides ``total`` (eval reports metrics for each)."""
        return self.facts.level_names

    @property
    def levels(self) -> tuple[str, ...]:
        """The partial scores (eval reports metrics for each of them and for ``total``)."""
        return self.score_names

    @property
    def default_rerank_k(self) -> int | None:
        return self.facts.default_rerank_k

    @property
    def coarse_level(self) -> str:
        """What eval's coarse stage ranks by (the dot products of :meth:`global_embeddings`)."""
        return self.facts.coarse_level

    @property
    def needs_fine_scoring(self) -> bool:
        """False when ranking by the global embeddings alone already ranks by ``total``."""
        return not self.facts.total_is_global

    # ---- encoders and scores (subclasses) ---------------------------------------------------
    def encode_text(self, tokens: Tensor) -> TextFeatures:
        """``tokens [N, L]`` (CLIP BPE ids, start ... end, zero padded) -> :class:`TextFeatures`: CLIP's
        sentence vector alone by default; methods that score words override it."""
        sentence, _, _ = self.backbone.encode_text(tokens)
        return TextFeatures(sentence=sentence)

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
        size = block_size or self.facts.block_size
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
