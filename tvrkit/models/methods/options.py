"""Per-method options: one frozen dataclass per published method, mirroring
``schemas/method-NAME.schema.json`` (the schema holds descriptions and defaults; a test checks
that both agree). ``ModelConfig`` has one field per method; only the options of the method that
``model.method`` names are read. Torch-free, like every config module.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Clip4ClipOptions:
    pass


@dataclass(frozen=True)
class XPoolOptions:
    """X-Pool (schemas/method-xpool.schema.json): its text-conditioned pooling's heads and dropout."""

    heads: int = 1
    dropout: float = 0.3


@dataclass(frozen=True)
class DrlOptions:
    """DRL (schemas/method-drl.schema.json): the channel-decorrelation term of its loss (off for
    BackBone_tvr's variant) and how padded tokens take part in the token-wise maxima."""

    cdcr: bool = True
    cdcr_alpha1: float = 0.14
    cdcr_alpha2: float = 0.0
    cdcr_lambda: float = 0.001
    padding: str = "masked"


@dataclass(frozen=True)
class UcofiaOptions:
    """UCoFiA (schemas/method-ucofia.schema.json): the sizes its learned matrices are built for,
    the perturbed top-k patch selector, the patch shift and the deterministic eval draw."""

    max_frames: int = 12
    max_words: int = 32
    topk: int = 3
    num_samples: int = 500
    sigma: float = 0.05
    eval_noise_seed: int = 0
    shift_layers: tuple[int, ...] = (10, 11)
    shift_div: int = 7


@dataclass(frozen=True)
class EercfOptions:
    """EERCF (schemas/method-eercf.schema.json): frame budget, padding policy, the training loss
    weights (the official argument defaults) and the evaluation's hard-coded fusion weights."""

    max_frames: int = 12
    padding: str = "masked"
    video_weight: float = 0.5
    weak_frame_weight: float = 0.5
    weak_patch_weight: float = 0.05
    strong_frame_weight: float = 1.0
    strong_patch_weight: float = 0.0
    weak_loss_weight: float = 0.8
    strong_loss_weight: float = 0.2
    cdcl_loss_weight: float = 0.001
    cdcl_video_weight: float = 1.0
    cdcl_frame_weight: float = 1.0
    cdcl_patch_weight: float = 0.0
    cdcl_on_diagonal: float = 0.14
    cdcl_off_diagonal: float = 0.0
    fusion_weak_frame: float = 0.8
    fusion_strong_frame: float = 0.2
    fusion_weak_patch: float = 0.2
    fusion_video: float = 0.5


@dataclass(frozen=True)
class VschaOptions:
    num_frames: int = 12
    center: int = 8
    heads: int = 1
    dropout: float = 0.3
    alpha: float = 0.001
    beta: float = 0.1
    padding: str = "masked"


@dataclass(frozen=True)
class HmmcPretrainOptions:
    enabled: bool = False
    queue_size: int = 1024
    momentum: float = 0.99
    temperature: float = 0.07
    frames: int = 12
    video_weight: float = 0.45
    frame_weight: float = 0.45


@dataclass(frozen=True)
class HmmcOptions:
    """HMMC (schemas/method-hmmc.schema.json): temporal transformer sizes, the top-k frame term,
    the fine-tune loss weights, the fixed logit scale, padding, and the momentum-queue pre-training."""

    temporal_layers: int = 4
    max_positions: int = 48
    top_frames: int = 2
    frame_features: bool = True
    video_weight: float = 0.85
    frame_weight: float = 0.15
    logit_scale: float = 100.0
    padding: str = "masked"
    pretrain: HmmcPretrainOptions = field(default_factory=HmmcPretrainOptions)
