"""``load_checkpoint``: a trained model from a tvrkit checkpoint or from a checkpoint written by a
method's official training script, as that script writes it.

Layouts recognised (the file decides, not its name):

- tvrkit: ``{"format", "model", "config", ...}`` as ``tvrkit train`` writes it; the method it was
  trained with must be the config's.
- official, wrapped: ``{"epoch", "state_dict", "optimizer"}`` (X-Pool, VSC-HA).
- official, bare: a ``state_dict`` (CLIP4Clip, DRL, UCoFiA, EERCF, HMMC: ``clip.visual.*``, ...).

Official tensors are renamed by the method's ``map_official`` and loaded strictly: a missing or
unexpected key is a :class:`~tvrkit.errors.ConfigError` that names it, and says which method the
checkpoint looks like when it is another method's. fp16 tensors are cast to the model's dtype.
Every official checkpoint holds an OpenAI CLIP, so QuickGELU is used unless the config says
otherwise.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from tvrkit.errors import ConfigError
from tvrkit.models.backbone import _quiet_random_init_warning
from tvrkit.models.config import ModelConfig, load_model_config, upgrade_model_section
from tvrkit.models.methods import get_method, method_names
from tvrkit.models.methods.base import Method
from tvrkit.models.methods.layouts import strip_module_prefix

TVRKIT = "tvrkit"
OFFICIAL = "official"


@dataclasses.dataclass(frozen=True)
class CheckpointContents:
    """What a checkpoint file holds: its layout, its state dict (DDP prefix removed), and for
    tvrkit checkpoints the model config it was trained with and its activation."""

    layout: str
    state: dict[str, Tensor]
    model_config: dict[str, Any] | None = None
    quick_gelu: bool | None = None


def read_checkpoint(path: str | os.PathLike[str]) -> CheckpointContents:
    """Read ``path`` (tensors only, memory-mapped) and tell its layout."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"checkpoint not found: {p}")
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        return CheckpointContents(OFFICIAL, strip_module_prefix(load_file(str(p))))
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # pickle, zip and mmap errors all mean: not a checkpoint we can read
        raise ConfigError(f"checkpoint {p}: not a readable torch checkpoint ({exc})") from exc
    if not isinstance(obj, dict):
        raise ConfigError(f"checkpoint {p}: expected a dict of tensors, got {type(obj).__name__}")
    if isinstance(obj.get("model"), dict) and ("format" in obj or "config" in obj):
        config = obj.get("config") or {}
        return CheckpointContents(TVRKIT, obj["model"], config.get("model"), obj.get("quick_gelu"))
    state = obj.get("state_dict", obj)
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ConfigError(f"checkpoint {p}: neither a tvrkit checkpoint, a state_dict nor {{'state_dict': ...}}")
    return CheckpointContents(OFFICIAL, strip_module_prefix(state))


def resolve_model_config(config: Any, stored: dict[str, Any] | None = None) -> ModelConfig:
    """A :class:`ModelConfig` from ``config``: a YAML path (a train/eval config's ``model:``
    section, or a model config), a dict, a config object with a ``model`` field, a
    ``ModelConfig``; ``None`` takes ``stored`` (the config a tvrkit checkpoint was trained with)."""
    from tvrkit.config import read_yaml, resolve_config_path

    if isinstance(config, ModelConfig):
        return config
    if config is None:
        if stored is None:
            raise ConfigError("load_checkpoint: an official checkpoint needs config= (the method's config file)")
        return load_model_config(base=upgrade_model_section(stored))
    if isinstance(config, (str, os.PathLike)):
        doc = read_yaml(resolve_config_path(config))
        return load_model_config(base=doc["model"] if isinstance(doc.get("model"), dict) else doc)
    if isinstance(config, dict):
        return load_model_config(base=config.get("model", config) if isinstance(config.get("model"), dict) else config)
    if isinstance(getattr(config, "model", None), ModelConfig):
        return config.model
    raise ConfigError(f"load_checkpoint: config must be a path, dict or ModelConfig, got {type(config).__name__}")


def similar_methods(state: dict[str, Tensor]) -> list[str]:
    """The registered methods whose official signature keys ``state`` has."""
    return [name for name in method_names() if get_method(name).looks_like(state)]


def load_checkpoint(path: str | os.PathLike[str], config: Any = None, device: str | torch.device = "cpu") -> Method:
    """The model of ``config`` with the weights of checkpoint ``path``, in eval mode on ``device``.

    ``path`` is a tvrkit checkpoint or an official one (see the module docstring); ``config`` as in
    :func:`resolve_model_config` (optional for tvrkit checkpoints). The backbone's pretrained file
    is never read: every weight comes from the checkpoint."""
    contents = read_checkpoint(path)
    cfg = resolve_model_config(config, contents.model_config)
    quick_gelu = cfg.backbone.quick_gelu
    if quick_gelu is None:  # tvrkit records what it trained with; official code is OpenAI CLIP
        quick_gelu = contents.quick_gelu if contents.layout == TVRKIT else True
    cfg = dataclasses.replace(cfg, backbone=dataclasses.replace(cfg.backbone, pretrained=None, quick_gelu=quick_gelu))
    if contents.layout == TVRKIT:
        trained = (contents.model_config or {}).get("method")
        if trained != cfg.method:
            raise ConfigError(f"checkpoint {path} was trained with model.method {trained}; the config says "
                              f"{cfg.method}")
        mapped = contents.state
    else:
        mapped = _map_official(get_method(cfg.method), contents.state, cfg, path)
    with _quiet_random_init_warning(active=True):  # open_clip's "initialized randomly": the weights follow
        model = get_method(cfg.method)(cfg)
    load_state_strict(model, mapped, f"checkpoint {path}", contents.state if contents.layout == OFFICIAL else None)
    return model.to(device).eval()


def _map_official(cls: type[Method], state: dict[str, Tensor], cfg: ModelConfig, path: Any) -> dict[str, Tensor]:
    if not cls.looks_like(state):
        others = similar_methods(state)
        hint = f"; it looks like a {' / '.join(others)} checkpoint" if others else ""
        raise ConfigError(f"checkpoint {path} is not an official {cfg.method} checkpoint{hint} "
                          "(set model.method in the config to the method that wrote it)")
    return cls.map_official(state, cfg)


def load_state_strict(model: Method, state: dict[str, Tensor], what: str,
                      official: dict[str, Tensor] | None = None) -> None:
    """``model.load_state_dict(state)``, every key accounted for: a missing, unexpected or
    wrongly shaped tensor is a :class:`ConfigError` naming it (and, for an official checkpoint,
    the methods it looks like)."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = sorted(k for k in set(expected) & set(state) if tuple(expected[k].shape) != tuple(state[k].shape))
    if missing or unexpected or shapes:
        problems = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", shapes)):
            if keys:
                shown = ", ".join(keys[:8]) + (f" and {len(keys) - 8} more" if len(keys) > 8 else "")
                problems.append(f"{label}: {shown}")
        hint = ""
        if official is not None:
            others = [m for m in similar_methods(official) if m != model.name]
            hint = f"; it looks like a {' / '.join(others)} checkpoint" if others else ""
        raise ConfigError(f"{what} does not fit model.method {model.name} as configured ({'; '.join(problems)}){hint}")
    model.load_state_dict(state, strict=True)
