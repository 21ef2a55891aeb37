"""The retrieval models: the published methods (``tvrkit.models.methods``, one package each, found
by the registry) on a shared CLIP backbone (open_clip), ``build_model`` and ``load_checkpoint``.

``ModelConfig``, the registry and every method's options and facts import without torch (configs
are loaded before any model exists); everything else is loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tvrkit.models.config import ModelConfig, load_model_config
from tvrkit.models.methods import MethodFacts, build_model, method_facts, method_names

if TYPE_CHECKING:
    from tvrkit.models.checkpoints import load_checkpoint
    from tvrkit.models.features import TextFeatures, VideoFeatures
    from tvrkit.models.methods.base import Method

_LAZY = {
    "load_checkpoint": "tvrkit.models.checkpoints",
    "Method": "tvrkit.models.methods.base",
    "TextFeatures": "tvrkit.models.features",
    "VideoFeatures": "tvrkit.models.features",
}

__all__ = [
    "ModelConfig",
    "MethodFacts",
    "load_model_config",
    "build_model",
    "load_checkpoint",
    "method_facts",
    "method_names",
    "Method",
    "TextFeatures",
    "VideoFeatures",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
