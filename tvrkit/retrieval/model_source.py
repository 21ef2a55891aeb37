"""The model a retrieval run scores with: where it comes from, how it is loaded, and its identity.

``tvrkit eval``, ``tvrkit export``, ``tvrkit index`` and a search query all embed with the same
model, loaded the same way: a checkpoint (tvrkit's, or one written by the method's official code)
with the data and model sections it was trained with, or, for a model that was never trained, a
train config's model built untrained (seeded by ``data.seed``) or zero-shot from its backbone's
pretrained weights. The identity (the checkpoint's sha256, or a hash of that config, seed and
pretrained file) keys the feature cache and is what an index records and a query must match.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tvrkit.config import from_dict, read_yaml, resolve_config, resolve_config_path, to_dict
from tvrkit.data.config import DataConfig
from tvrkit.errors import ConfigError, StageError
from tvrkit.models.config import ModelConfig

SECTIONS: tuple[str, ...] = ("data", "model")


@dataclass(frozen=True)
class ModelSource:
    """A checkpoint (None: the model as ``model`` builds it) with the data and model sections it is used with."""

    checkpoint: str | None
    data: DataConfig
    model: ModelConfig


def checkpoint_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The resolved train config stored in a checkpoint (memory-mapped: weights are not read)."""
    import torch

    if not Path(path).is_file():
        raise ConfigError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # torch raises several types for a file that is not a checkpoint
        raise ConfigError(f"{path}: not a tvrkit checkpoint ({exc})") from exc
    config = ckpt.get("config") if isinstance(ckpt, dict) else None
    if not isinstance(config, dict):
        return {}
    from tvrkit.models.config import upgrade_model_section

    return {**config, "model": upgrade_model_section(config["model"])} if "model" in config else config


def stored_sections(checkpoint: str | os.PathLike[str] | None,
                    model_config: str | os.PathLike[str] | None) -> dict[str, dict[str, Any]]:
    """The data and model sections of ``checkpoint``'s train config, or of the train config
    ``model_config`` (a model never trained: random init, or zero-shot pretrained weights).
    Exactly one of the two is required (:class:`ConfigError` otherwise)."""
    if checkpoint and model_config is not None:
        raise ConfigError("checkpoint: give either a checkpoint or --model-config (an untrained model), not both")
    if checkpoint:
        stored = checkpoint_config(checkpoint)
    elif model_config is not None:
        stored = resolve_config("train", read_yaml(resolve_config_path(model_config)))
    else:
        raise ConfigError("checkpoint: required (--checkpoint PATH), or --model-config TRAIN.yaml to evaluate "
                          "that config's model untrained (random init, or zero-shot from backbone.pretrained)")
    return {name: stored[name] for name in SECTIONS if name in stored}


def load_model_source(checkpoint: str | None = None, model_config: str | None = None) -> ModelSource:
    """:class:`ModelSource` of a checkpoint or an untrained train config (see :func:`stored_sections`),
    its sections validated and completed by their schemas."""
    sections = stored_sections(checkpoint, model_config)
    return ModelSource(checkpoint or None, from_dict(DataConfig, resolve_config("data", sections.get("data", {}))),
                       from_dict(ModelConfig, resolve_config("model", sections.get("model", {}))))


def load_model(source: ModelSource, device: Any) -> Any:
    """The source's model in eval mode on ``device`` (a tvrkit checkpoint or one written by the
    method's official code: :func:`tvrkit.models.load_checkpoint`); a config that does not fit the
    checkpoint's weights is a :class:`ConfigError` naming the mismatched keys. Without a
    checkpoint: the config's model as built, untrained (seeded by ``data.seed``) or with
    its backbone's pretrained weights (zero-shot)."""
    import torch

    from tvrkit.models import build_model, load_checkpoint

    if not source.checkpoint:
        torch.manual_seed(source.data.seed)
        return build_model(source.model).to(device).eval()
    # the weights come from the checkpoint (tvrkit's or an official one): never the pretrained file
    model = load_checkpoint(source.checkpoint, source.model, device)
    check_finite_weights(model.state_dict(), source.checkpoint)
    return model


def check_finite_weights(tensors: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """A :class:`StageError` naming each tensor of ``path`` that holds NaN or Inf, so a diverged
    checkpoint is named as such instead of surfacing later as meaningless scores."""
    import torch

    bad = [(name, int((~torch.isfinite(t)).sum()), t.numel()) for name, t in tensors.items()
           if torch.is_tensor(t) and t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        named = "; ".join(f"{name} ({n} of {size} values)" for name, n, size in bad[:5])
        more = f" and {len(bad) - 5} more tensor(s)" if len(bad) > 5 else ""
        raise StageError(f"{path}: the weights hold NaN or Inf: {named}{more}; the run that wrote it diverged: "
                         "use an earlier checkpoint")


def model_identity(source: ModelSource) -> str:
    """What the features depend on besides the data: the checkpoint's sha256, or for an
    untrained model its config, seed and pretrained file (feature-cache key)."""
    from tvrkit.fsutil import sha256_file

    if source.checkpoint:
        return sha256_file(source.checkpoint)
    pretrained = source.model.backbone.pretrained
    ident = {"model": to_dict(source.model), "seed": source.data.seed,
             "pretrained_sha256": sha256_file(pretrained) if pretrained else None}
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()
