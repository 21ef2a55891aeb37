"""The model config: ``model.method`` (which registered method), ``model.backbone`` (the CLIP
towers every method shares) and the chosen method's options, read from ``model.<method>``.

``model.schema.json`` only describes ``model.method``; its names, the backbone section and each
method's section are generated from the registry and the options dataclasses here and in each
method (:func:`tvrkit.models.methods.model_schema`), which hold every default. Torch-free on purpose,
so that train/eval configs can import it without loading torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any

from tvrkit.config import from_dict, load_config, option, to_dict
from tvrkit.models.methods import DEFAULT_METHOD

SCHEMA = "model"


@dataclass(frozen=True)
class BackboneConfig:
    """The CLIP towers: which architecture, which local weights, what to freeze."""

    name: str = option("ViT-B-32", "open_clip architecture name (ViT-B-32, ViT-B-16, ViT-L-14, ...; ViT image tower "
                       "with open_clip's own text tower). Ignored when arch is set.", min_length=1)
    arch: str | None = option(None, "A small architecture shipped with tvrkit "
                              "(tvrkit/models/model_configs/NAME.json, 32 px frames) for tests and the demo; "
                              "replaces name when set.", choices=(None, "tvrkit-tiny"))
    pretrained: str | None = option(None, "null = random initialisation; else a local file: OpenAI's TorchScript "
                                    "archive (ViT-B-32.pt) or an open_clip state dict (.pt/.bin/.safetensors). "
                                    "Nothing is ever downloaded.")
    quick_gelu: bool | None = option(None, "QuickGELU activations (OpenAI's CLIP was trained with them). null = "
                                     "decided from the weights' origin: true for OpenAI's TorchScript archives, bare "
                                     "state dicts in OpenAI's layout (converted ViT-B-32.pt files) and every "
                                     "official method checkpoint; the architecture's own setting for open_clip "
                                     "training checkpoints ({state_dict: ...}) and .safetensors files. Set false for "
                                     "a LAION/open_clip model saved as a bare state dict.")
    freeze_layers: int = option(0, "Freeze the patch embedding and the first N transformer blocks of the image tower "
                                "(0 = train everything).", minimum=0)
    freeze: str = option("tvrkit", "The rule freeze_layers follows. tvrkit: the patch embedding and the first "
                         "freeze_layers blocks of the image tower (0 = train everything). clip4clip: the loop of "
                         "CLIP4Clip's main_task_retrieval.py for --freeze_layer_num (EERCF and UCoFiA run the same "
                         "loop): only ln_final, text_projection, the logit scale, visual.ln_post, visual.proj and "
                         "the blocks from freeze_layers on in BOTH towers train, so even freeze_layers 0 freezes the "
                         "token and positional embeddings, the class embedding, conv1 and ln_pre (27.7M of "
                         "ViT-B/32's 151M parameters).", choices=("tvrkit", "clip4clip"))
    grad_checkpointing: bool = option(False, "Recompute transformer blocks of both towers in the backward pass: less "
                                      "activation memory, about a third more compute.")

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
        from tvrkit.models.methods import method_spec

        expected = method_spec(self.method).options
        if self.options is None:
            object.__setattr__(self, "options", expected())
        elif not isinstance(self.options, expected):
            raise TypeError(f"ModelConfig: options of model.method {self.method} must be {expected.__name__}, "
                            f"got {type(self.options).__name__}")

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


#: sections every model config had while tvrkit also shipped a composable model (checkpoints of that time)
FORMER_SHARED = ("temporal", "levels", "loss")


def upgrade_model_section(doc: dict[str, Any]) -> dict[str, Any]:
    """A ``model:`` section stored in a checkpoint, in the current layout: checkpoints written while
    ``model.temporal``, ``model.levels`` and ``model.loss`` were shared sections keep loading, their
    ``temporal`` moved into the options of a method that has one. Current sections come back unchanged;
    the removed composable model (``method: custom``) is a :class:`~tvrkit.errors.ConfigError`."""
    if not isinstance(doc, dict) or not set(FORMER_SHARED) & set(doc):
        return doc
    from tvrkit.errors import ConfigError
    from tvrkit.models.methods import method_spec

    method = doc.get("method", "custom")
    if method == "custom":
        raise ConfigError("model.method custom: this checkpoint holds tvrkit's former composable model, which "
                          "is no longer part of tvrkit; train a published method (docs/methods.md)")
    out = {key: value for key, value in doc.items() if key not in FORMER_SHARED}
    temporal = doc.get("temporal") or {}
    if temporal and "temporal" in {f.name for f in fields(method_spec(method).options)}:
        kept = {key: temporal[key] for key in ("type", "layers") if key in temporal}
        out[method] = {**(out.get(method) or {}), "temporal": kept}
    return out


def load_model_config(
    path: str | os.PathLike[str] | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    base: dict | None = None,
) -> ModelConfig:
    """A validated :class:`ModelConfig` from YAML ``path`` and/or ``base``, with ``--set`` overrides."""
    return load_config(SCHEMA, ModelConfig, path=path, overrides=overrides, base=base)

