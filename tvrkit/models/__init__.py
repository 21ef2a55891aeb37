"""The retrieval models: CLIP backbone (open_clip), the published methods (``tvrkit.models.methods``),
tvrkit's composable model (temporal module, multi-granularity heads, losses) and ``load_checkpoint``.

``ModelConfig`` and ``LEVELS`` import without torch (configs are loaded before any model exists);
everything else is loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tvrkit.models.config import LEVELS, ModelConfig, load_model_config

if TYPE_CHECKING:
    from tvrkit.models.checkpoints import load_checkpoint
    from tvrkit.models.features import TextFeatures, VideoFeatures
    from tvrkit.models.methods.base import Method
    from tvrkit.models.model import RetrievalModel, build_model

_LAZY = {
    "load_checkpoint": "tvrkit.models.checkpoints",
    "Method": "tvrkit.models.methods.base",
    "build_model": "tvrkit.models.model",
    "RetrievalModel": "tvrkit.models.model",
    "TextFeatures": "tvrkit.models.features",
    "VideoFeatures": "tvrkit.models.features",
}

__all__ = [
    "LEVELS",
    "ModelConfig",
    "load_model_config",
    "build_model",
    "load_checkpoint",
    "Method",
    "RetrievalModel",
    "TextFeatures",
    "VideoFeatures",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
