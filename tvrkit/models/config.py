"""The model config: ``model.method`` (which registered method), ``model.backbone`` (the CLIP
towers every method shares) and the chosen method's options, read from ``model.<method>``.

``model.schema.json`` holds the backbone's keys; the method names and each method's section are
generated from the registry (:func:`tvrkit.models.methods.model_schema`). Torch-free on purpose,
so that train/eval configs can import it without loading torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from tvrkit.config import load_config
from tvrkit.config.dataclass import from_dict, to_dict
from tvrkit.config.options import option
from tvrkit.models.methods import DEFAULT_METHOD

SCHEMA = "model"


@dataclass(frozen=True)
class BackboneConfig:
    name: str = "ViT-B-32"
    arch: str | None = None
    pretrained: str | None = None
    quick_gelu: bool | None = None
    freeze_layers: int = 0
    freeze: str = "tvrkit"  # which rule freeze_layers follows: tvrkit's, or CLIP4Clip's official loop
    grad_checkpointing: bool = False

    @property
    def model_name(self) -> str:
        """The open_clip architecture actually built."""
        return self.arch or self.name


@dataclass(frozen=True)
class TemporalOptions:
    """The temporal module over frame embeddings, as CLIP4Clip's --sim_header builds it (shared by
    the methods built on its code)."""

    type: str = option("seqTransf", "meanP: frames untouched (order-blind; --sim_header meanP). seqTransf: "
                       "CLIP4Clip's transformerClip over frame embeddings with frame position embeddings (CLIP's "
                       "77-row context-length table), added back to its input, started from CLIP's first text "
                       "layers (--sim_header seqTransf).", choices=("meanP", "seqTransf"))
    layers: int = option(4, "seqTransf depth (--cross_num_hidden_layers; 4 in every published recipe).", minimum=1)

    def describe(self) -> str:
        """What reports print: ``meanP`` or ``seqTransf (N layers)``."""
        return self.type if self.type == "meanP" else f"seqTransf ({self.layers} layers)"


@dataclass(frozen=True)
class ModelConfig:
    """``method`` names a registered method; ``options`` is that method's options object (its YAML
    key is ``model.<method>``; ``None`` takes the method's defaults)."""

    method: str = DEFAULT_METHOD
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    options: Any = None

    def __post_init__(self) -> None:
        if self.options is None:
            from tvrkit.models.methods import method_spec

            object.__setattr__(self, "options", method_spec(self.method).options())

    @classmethod
    def from_config(cls, doc: dict[str, Any]) -> ModelConfig:
        """From a validated ``model:`` mapping. Another method's section is an error unless it only
        holds that method's defaults (which schema defaults fill in)."""
        from tvrkit.errors import ConfigError
        from tvrkit.models.methods import method_names, method_spec

        method = doc.get("method", cls.method)
        for other in method_names():
            if other != method and other in doc and from_dict(method_spec(other).options, doc[other]) != \
                    method_spec(other).options():
                raise ConfigError(f"model.{other}: options of method {other}, but model.method is {method}")
        options = from_dict(method_spec(method).options, doc.get(method) or {})
        return cls(method=method, backbone=from_dict(BackboneConfig, doc.get("backbone") or {}), options=options)

    def to_config(self) -> dict[str, Any]:
        """The ``model:`` mapping of this config (only the chosen method's section)."""
        return {"method": self.method, "backbone": to_dict(self.backbone), self.method: to_dict(self.options)}


def load_model_config(
    path: str | os.PathLike[str] | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    base: dict | None = None,
) -> ModelConfig:
    """A validated :class:`ModelConfig` from YAML ``path`` and/or ``base``, with ``--set`` overrides."""
    return load_config(SCHEMA, ModelConfig, path=path, overrides=overrides, base=base)

