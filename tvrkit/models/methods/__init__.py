"""The methods tvrkit computes as their official code does, behind one registry.

``model.method`` names one of :data:`METHODS`; :func:`get_method` imports its module on first use
(so configs, the CLI and this registry load without torch). ``custom`` is tvrkit's composable
model (levels and heads chosen in the config); the others are the published methods, each in its
own module, sharing the CLIP backbone, the temporal module and the masked ops.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tvrkit.models.methods.base import Method

# name -> "module:Class"; the order is the order docs and error messages list them in.
METHODS: dict[str, str] = {
    "custom": "tvrkit.models.model:RetrievalModel",
    "clip4clip": "tvrkit.models.methods.clip4clip:Clip4Clip",
    "xpool": "tvrkit.models.methods.xpool:XPool",
    "drl": "tvrkit.models.methods.drl:DRL",
    "ucofia": "tvrkit.models.methods.ucofia:UCoFiA",
    "eercf": "tvrkit.models.methods.eercf:EERCF",
    "vscha": "tvrkit.models.methods.vscha:VSCHA",
    "hmmc": "tvrkit.models.methods.hmmc:HMMC",
}


def method_names() -> tuple[str, ...]:
    """Every registered method name."""
    return tuple(METHODS)


def get_method(name: str) -> type[Method]:
    """The :class:`~tvrkit.models.methods.base.Method` subclass registered as ``name``."""
    from tvrkit.errors import ConfigError

    if name not in METHODS:
        raise ConfigError(f"model.method: unknown method {name!r}; one of {', '.join(METHODS)}")
    module, cls = METHODS[name].split(":")
    return getattr(importlib.import_module(module), cls)
