"""``tvrkit train --init PATH`` (``train.init``): fine-tune from a checkpoint's model weights.

The file is read by :func:`tvrkit.models.load_checkpoint`, so it may be a tvrkit checkpoint or
one written by a method's official training script (the layout is detected and mapped). Its
weights replace the freshly built model's, every key accounted for (a missing, unexpected or
misshapen tensor is a :class:`~tvrkit.errors.ConfigError` naming it); the optimizer, schedule
and data position start fresh, as CLIP4Clip's ``--init_model`` does.
"""

from __future__ import annotations

import dataclasses
import os

from torch import nn

from tvrkit.models.config import ModelConfig


def init_model_config(cfg: ModelConfig, path: str | os.PathLike[str]) -> ModelConfig:
    """``cfg`` with the backbone activation of checkpoint ``path`` when the config leaves it open
    (tvrkit checkpoints record theirs; every official checkpoint holds an OpenAI CLIP: QuickGELU)."""
    from tvrkit.models.checkpoints import TVRKIT, read_checkpoint

    if cfg.backbone.quick_gelu is not None:
        return cfg
    contents = read_checkpoint(path)
    quick_gelu = contents.quick_gelu if contents.layout == TVRKIT else True
    if quick_gelu is None:
        return cfg
    return dataclasses.replace(cfg, backbone=dataclasses.replace(cfg.backbone, quick_gelu=quick_gelu))


def load_init_weights(model: nn.Module, path: str | os.PathLike[str], cfg: ModelConfig) -> None:
    """Load the model weights of checkpoint ``path`` into ``model`` (built from ``cfg``), strictly."""
    from tvrkit.models.checkpoints import load_checkpoint, load_state_strict

    loaded = load_checkpoint(path, config=cfg)
    load_state_strict(model, loaded.state_dict(), f"train.init {path}")
