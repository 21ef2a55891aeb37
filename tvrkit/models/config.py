"""The model config: frozen dataclasses mirroring ``schemas/model.schema.json`` (the schema
holds the descriptions; the defaults here must match it, which a test checks).

Torch-free on purpose, so that train/eval configs can import it without loading torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from tvrkit.config import load_config
from tvrkit.models.methods.options import (
    Clip4ClipOptions,
    DrlOptions,
    EercfOptions,
    HmmcOptions,
    UcofiaOptions,
    VschaOptions,
    XPoolOptions,
)

SCHEMA = "model"

# Granularities, coarse to fine. The order is the order of score()/loss() outputs.
LEVELS: tuple[str, ...] = ("video_sentence", "frame_sentence", "frame_word", "patch_word")


@dataclass(frozen=True)
class BackboneConfig:
    name: str = "ViT-B-32"
    arch: str | None = None
    pretrained: str | None = None
    quick_gelu: bool | None = None
    freeze_layers: int = 0
    freeze: str = "tvrkit"  # which rule freeze_layers follows: tvrkit's, or CLIP4Clip's official loop
    grad_checkpointing: bool = False

    @property
    def model_name(self) -> str:
        """The open_clip architecture actually built."""
        return self.arch or self.name


@dataclass(frozen=True)
class TemporalConfig:
    type: str = "meanP"
    layers: int = 4
    # CLIP4Clip allows 128 positions; 64 covers every published frame budget (12-64) at half the table.
    max_positions: int = 64
    init_from_text: bool = True


@dataclass(frozen=True)
class VideoSentenceConfig:
    weight: float = 1.0
    pooling: str = "mean"


@dataclass(frozen=True)
class FrameSentenceConfig:
    weight: float = 0.0
    aggregation: str = "soft"
    topk: int = 3
    temperature: float = 0.01


@dataclass(frozen=True)
class FrameWordConfig:
    weight: float = 0.0


@dataclass(frozen=True)
class PatchWordConfig:
    weight: float = 0.0
    keep_patches: int = 8
    mode: str = "keep"


@dataclass(frozen=True)
class LevelsConfig:
    video_sentence: VideoSentenceConfig = field(default_factory=VideoSentenceConfig)
    frame_sentence: FrameSentenceConfig = field(default_factory=FrameSentenceConfig)
    frame_word: FrameWordConfig = field(default_factory=FrameWordConfig)
    patch_word: PatchWordConfig = field(default_factory=PatchWordConfig)

    def enabled(self) -> tuple[str, ...]:
        """Names of the levels with a positive weight, in :data:`LEVELS` order."""
        return tuple(name for name in LEVELS if getattr(self, name).weight > 0)

    def weight(self, name: str) -> float:
        return float(getattr(self, name).weight)


@dataclass(frozen=True)
class MomentumConfig:
    enabled: bool = False
    queue_size: int = 1024
    momentum: float = 0.99
    weight: float = 1.0


@dataclass(frozen=True)
class LossConfig:
    temperature_init: float | None = None
    max_logit_scale: float = 100.0
    momentum: MomentumConfig = field(default_factory=MomentumConfig)
    decorrelation_weight: float = 0.0
    decorrelation_off_diagonal: float = 0.0


@dataclass(frozen=True)
class ModelConfig:
    method: str = "custom"
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    temporal: TemporalConfig = field(default_factory=TemporalConfig)
    levels: LevelsConfig = field(default_factory=LevelsConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    clip4clip: Clip4ClipOptions = field(default_factory=Clip4ClipOptions)
    xpool: XPoolOptions = field(default_factory=XPoolOptions)
    drl: DrlOptions = field(default_factory=DrlOptions)
    ucofia: UcofiaOptions = field(default_factory=UcofiaOptions)
    eercf: EercfOptions = field(default_factory=EercfOptions)
    vscha: VschaOptions = field(default_factory=VschaOptions)
    hmmc: HmmcOptions = field(default_factory=HmmcOptions)


def load_model_config(
    path: str | os.PathLike[str] | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    base: dict | None = None,
) -> ModelConfig:
    """A validated :class:`ModelConfig` from YAML ``path`` and/or ``base``, with ``--set`` overrides."""
    return load_config(SCHEMA, ModelConfig, path=path, overrides=overrides, base=base)

