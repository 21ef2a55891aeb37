"""``IndexConfig`` (schema ``schemas/index.schema.json``) and the model an index is built with.

The model is loaded exactly as evaluation loads it (:mod:`tvrkit.retrieval.model_source`):
a checkpoint with the data section it was trained with, or a train config's model untrained /
zero-shot. Its identity (checkpoint sha256, or a hash of config and
seed) plus the frame settings is what an index records and what a query must match.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from tvrkit.config import option
from tvrkit.errors import ConfigError
from tvrkit.media.compress import CompressConfig
from tvrkit.retrieval.model_source import ModelSource, load_model_source, model_identity
from tvrkit.search.faiss_index import IndexParams

SCHEMA = "index"


@dataclasses.dataclass(frozen=True)
class IndexConfig:
    """One ``tvrkit index`` run: each option's default, description and allowed values
    (``schemas/index.schema.json`` is generated from them)."""

    videos: str = option(description="Folder of videos, searched recursively; every non-hidden file is tried "
                         "(anything ffmpeg reads), the others are recorded in OUT/failures.jsonl.", min_length=1)
    out: str = option(description="Index folder: compressed/, features/, vectors.faiss, videos.parquet, "
                      "index.summary.json, failures.jsonl.", min_length=1)
    checkpoint: str | None = option(None, "Checkpoint written by `tvrkit train`; its data section decides the frame "
                                    "sampling.")
    model_config: str | None = option(None, "Instead of a checkpoint: a train config whose model is used untrained "
                                      "(seeded) or zero-shot (backbone.pretrained).")
    index_type: str = option("flat", "flat: exact inner product (default; milliseconds per query up to ~100k "
                             "videos); ivf-pq: inverted lists of product-quantised codes trained on the library, "
                             "exact re-scoring of the candidates (large libraries); hnsw: graph search over the raw "
                             "vectors.", choices=("flat", "ivf-pq", "hnsw"))
    index_params: IndexParams = option(description="Settings of the approximate index types.", factory=IndexParams)
    compress: CompressConfig = option(description="How each video is compressed (the prepare stage's compressor): "
                                      "files already at these settings are adopted as they are.",
                                      factory=CompressConfig, ref="compress")
    batch_size: int | None = option(None, "Videos per encoder batch; null = the model's data.eval_batch_size.",
                                    minimum=1)
    loader_workers: int = option(1, "DataLoader worker processes decoding frames while the model encodes.", minimum=0)
    feature_dtype: str = option("float32", "Storage dtype of the per-frame features the fine levels and moments "
                                "read.", choices=("float32", "float16"))
    device: str = option("cpu", "Torch device the model encodes on (cpu, cuda, cuda:1).")
    strip_frames: int = option(4, "Frames in each result's strip on the search page.", minimum=1, maximum=16)
    strip_height: int = option(64, "Strip height in pixels.", minimum=16, maximum=512)


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
    """What an index stores to reload its model: absolute paths of the checkpoint or train config (a
    shipped config's name resolves to its file)."""
    from tvrkit.config import resolve_config_path

    return {"checkpoint": str(Path(checkpoint).resolve()) if checkpoint else None,
            "model_config": str(resolve_config_path(model_config).resolve()) if model_config else None}


def model_source(spec: dict[str, Any]) -> ModelSource:
    """The checkpoint or untrained train config of ``spec`` with its data and model sections."""
    return load_model_source(spec.get("checkpoint"), spec.get("model_config"))


def identity(source: ModelSource) -> dict[str, Any]:
    """The model identity and every frame/text setting that changes a stored feature."""
    from tvrkit.models import method_facts

    data, facts = source.data, method_facts(source.model)
    return {"model_sha256": model_identity(source), "arch": source.model.backbone.model_name,
            "temporal": facts.temporal, "levels": list(facts.level_names),
            "max_frames": data.max_frames, "frame_rate": data.frame_rate, "slice_framepos": data.slice_framepos,
            "image_size": data.image_size, "max_words": data.max_words}
