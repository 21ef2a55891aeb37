"""``IndexConfig`` (schema ``schemas/index.schema.json``) and the model an index is built with.

The model is loaded exactly as ``tvrkit eval`` loads it (:func:`tvrkit.eval.run_eval.load_eval_config`
and ``load_eval_model``): a checkpoint with the data section it was trained with, or a train
config's model untrained / zero-shot. Its identity (checkpoint sha256, or a hash of config and
seed) plus the frame settings is what an index records and what a query must match.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from tvrkit.errors import ConfigError
from tvrkit.media.compress import CompressConfig
from tvrkit.search.faiss_index import IndexParams

SCHEMA = "index"


@dataclasses.dataclass(frozen=True)
class IndexConfig:
    """One ``tvrkit index`` run (``schemas/index.schema.json`` describes every key)."""

    videos: str
    out: str
    checkpoint: str | None = None
    model_config: str | None = None
    index_type: str = "flat"
    index_params: IndexParams = dataclasses.field(default_factory=IndexParams)
    compress: CompressConfig = dataclasses.field(default_factory=CompressConfig)
    batch_size: int | None = None
    loader_workers: int = 1
    feature_dtype: str = "float32"
    device: str = "cpu"
    strip_frames: int = 4
    strip_height: int = 64


def load_index_config(path: str | os.PathLike[str] | None = None, overrides: list[str] | tuple[str, ...] = (),
                      base: dict[str, Any] | None = None) -> IndexConfig:
    """Index config from YAML ``path`` over ``base`` (CLI options) and ``--set`` overrides;
    exactly one of checkpoint / model_config is required (exit 2 otherwise)."""
    from tvrkit.config import load_config

    cfg = load_config(SCHEMA, IndexConfig, path, overrides, base)
    if bool(cfg.checkpoint) == bool(cfg.model_config):
        raise ConfigError("checkpoint: give exactly one of --checkpoint CKPT or --model-config TRAIN.yaml "
                          "(a train config's model, untrained or zero-shot)")
    if not Path(cfg.videos).is_dir():
        raise ConfigError(f"videos: no such folder: {cfg.videos}")
    return cfg


def model_spec(checkpoint: str | None, model_config: str | None) -> dict[str, Any]:
    """What an index stores to reload its model: absolute paths of the checkpoint or train config."""
    return {"checkpoint": str(Path(checkpoint).resolve()) if checkpoint else None,
            "model_config": str(Path(model_config).resolve()) if model_config else None}


def eval_config(spec: dict[str, Any]) -> Any:
    """The :class:`~tvrkit.eval.run_eval.EvalConfig` (data + model sections) of ``spec``."""
    from tvrkit.eval.run_eval import load_eval_config

    base = {"checkpoint": spec["checkpoint"]} if spec.get("checkpoint") else {}
    return load_eval_config(base=base, model_config=spec.get("model_config"))


def identity(ecfg: Any) -> dict[str, Any]:
    """The model identity and every frame/text setting that changes a stored feature."""
    from tvrkit.eval.run_eval import model_identity

    data = ecfg.data
    return {"model_sha256": model_identity(ecfg), "arch": ecfg.model.backbone.model_name,
            "temporal": ecfg.model.temporal.type, "levels": list(ecfg.model.levels.enabled()),
            "max_frames": data.max_frames, "frame_rate": data.frame_rate, "slice_framepos": data.slice_framepos,
            "image_size": data.image_size, "max_words": data.max_words}
