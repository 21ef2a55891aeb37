"""The train config (``schemas/train.schema.json``): data and model sections owned by
their packages, plus the optimizer and loop sections defined here, and the checks that
need more than one section (e.g. selecting on a validation split that is not there)."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from tvrkit.config import load_config
from tvrkit.data.config import DataConfig
from tvrkit.data.frame_indices import HMMC_CANDIDATES
from tvrkit.errors import ConfigError
from tvrkit.models.config import ModelConfig

SCHEMA = "train"


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    """AdamW or BertAdam + warmup/cosine; defaults are CLIP4Clip's (lr 1e-4, backbone x1e-3, wd 0.2)."""

    type: str = "adamw"
    lr: float = 1e-4
    coef_lr: float = 1e-3
    backbone_lr: float | None = None  # overrides lr * coef_lr (X-Pool's clip_lr)
    weight_decay: float = 0.2
    betas: tuple[float, ...] = (0.9, 0.98)
    eps: float = 1e-6
    schedule: str = "cosine"
    warmup: float = 0.1  # < 1: fraction of all steps (CLIP4Clip's warmup_proportion); >= 1: steps
    min_lr_ratio: float = 0.0
    no_decay: str = "tvrkit"
    param_grad_norm: float | None = 1.0  # bertadam only: BertAdam's per-parameter max_grad_norm


@dataclasses.dataclass(frozen=True)
class LoopConfig:
    """The ``train`` section: how long, how, and what the loop writes (see the schema)."""

    epochs: int | None = None
    steps: int | None = None
    init: str | None = None
    grad_accum: int = 1
    gather_grad: str = "full"  # full: exact global-batch gradient; local: the official AllGather
    reference_world_size: int | None = None  # local: the published run's GPU count sets the scale
    clip_grad_norm: float | None = None
    precision: str = "auto"
    threads: int | None = None
    seed: int = 42
    eval_every: int | None = None
    save_every: int | None = None
    keep_last: int = 2
    select_on: str = "val"
    nonfinite: str = "raise"
    max_skipped: int = 10
    log_every: int = 10
    progress: bool = True
    tensorboard: bool = False  # also write TensorBoard event files (OUT/tensorboard/)
    find_unused_parameters: bool = False


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs; saved resolved in the run directory and in every checkpoint."""

    data: DataConfig
    model: ModelConfig
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    train: LoopConfig = dataclasses.field(default_factory=LoopConfig)
    out: str = "runs/train"

    def selection_split(self) -> str | None:
        """The split whose R@1 picks ``best`` (None: no in-training evaluation); with
        ``data.val_from_train`` the validation split is the held-out part of the train split."""
        from tvrkit.data.holdout import HELDOUT

        val = HELDOUT if self.data.val_from_train else self.data.val_split
        return {"val": val, "test": self.data.test_split, "none": None}[self.train.select_on]


def check_train_config(cfg: TrainConfig) -> TrainConfig:
    """Cross-section checks the schema cannot express; :class:`ConfigError` (exit 2) on failure."""
    if (cfg.train.epochs is None) == (cfg.train.steps is None):
        raise ConfigError("train.epochs / train.steps: set exactly one of them (passes over the train split, or "
                          f"optimizer steps); got epochs={cfg.train.epochs}, steps={cfg.train.steps}")
    if cfg.data.val_from_train and cfg.data.val_split:
        raise ConfigError(f"data.val_from_train: {cfg.data.val_from_train} held-out training videos replace "
                          f"data.val_split ({cfg.data.val_split!r}); set one of them")
    if cfg.train.select_on == "val" and not (cfg.data.val_split or cfg.data.val_from_train):
        raise ConfigError(
            "train.select_on: val needs data.val_split (or data.val_from_train: N held-out training videos); "
            "or set train.select_on=none (best = last), or train.select_on=test (selects on the test split, "
            "recorded as such)"
        )
    if "clip4clip" in (cfg.data.train_sampling, cfg.data.eval_sampling) and cfg.data.frame_rate != int(
            cfg.data.frame_rate):
        raise ConfigError(f"data.frame_rate: {cfg.data.frame_rate}: clip4clip sampling reads whole frames per "
                          "second (CLIP4Clip's integer --feature_framerate)")
    if "hmmc" in (cfg.data.train_sampling, cfg.data.eval_sampling) and cfg.data.max_frames > HMMC_CANDIDATES:
        raise ConfigError(f"data.max_frames: {cfg.data.max_frames}: hmmc sampling takes its frames from "
                          f"{HMMC_CANDIDATES} per video (HMMC's stored frames)")
    if cfg.train.select_on == "test" and not cfg.data.test_split:
        raise ConfigError("train.select_on: test needs data.test_split")
    if cfg.optim.warmup >= 1 and cfg.optim.warmup != int(cfg.optim.warmup):
        raise ConfigError(f"optim.warmup: {cfg.optim.warmup} is >= 1, so it counts steps and must be whole")
    return cfg


def load_train_config(
    path: str | os.PathLike[str] | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    base: dict[str, Any] | None = None,
) -> TrainConfig:
    """Load and validate a train config from YAML ``path``, ``base`` and ``--set`` overrides."""
    return check_train_config(load_config(SCHEMA, TrainConfig, path=path, overrides=overrides, base=base))
