"""The registry of retrieval methods, built from the method packages found here.

Every sub-package of ``tvrkit.models.methods`` that declares ``METHOD = MethodSpec(...)`` in its
``__init__`` is a method named after the package (``model.method: NAME``); nothing lists them by
hand. A package's ``__init__`` is torch-free (its options dataclass, its facts, its one-line
description), so configs validate and reports describe a method without loading torch; the
``nn.Module`` (``spec.model``, e.g. ``".model:XPool"``) is imported on first use. How to add a
method: :mod:`tvrkit.models.methods.base`.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tvrkit.config.options import dataclass_schema

if TYPE_CHECKING:
    from tvrkit.models.config import ModelConfig
    from tvrkit.models.methods.base import Method

#: the method a config without ``model.method`` gets
DEFAULT_METHOD = "clip4clip"


@dataclass(frozen=True)
class ScoreLevel:
    """One partial score a method computes (eval reports metrics for each): its name and what it is."""

    name: str
    meaning: str


@dataclass(frozen=True)
class MethodFacts:
    """What generic code (eval's report and coarse-to-fine, ``tvrkit export``, a search index's
    identity) needs to know about a method, declared by the method instead of read from its fields.

    ``coarse_level`` says what the dot product of two :meth:`~tvrkit.models.methods.base.Method.
    global_embeddings` vectors equals (the indexable score eval's coarse stage and an index rank
    by); ``unit_vectors`` whether both vectors are unit length (the dot product is then a cosine);
    ``total_is_global`` whether that dot product already ranks as ``total`` (no fine pass needed).
    """

    levels: tuple[ScoreLevel, ...]
    coarse_level: str
    unit_vectors: bool = True
    total_is_global: bool = False
    #: top-K re-ranked by ``total`` when eval is coarse-to-fine and the config names no K
    default_rerank_k: int | None = None
    #: levels that ``tvrkit eval --post`` normalises one by one before combining (UCoFiA's SK-norm)
    post_levels: tuple[str, ...] = ()
    #: texts (and videos) per block when scoring; text-conditioned methods use smaller blocks
    block_size: int = 128
    #: how frames see each other before scoring (reports print it), e.g. "seqTransf (4 layers)"
    temporal: str = "none (CLIP frame embeddings)"
    #: the frame count the method's learned matrices are built for, or None when any count works
    frames: int | None = None

    @property
    def level_names(self) -> tuple[str, ...]:
        return tuple(level.name for level in self.levels)


@dataclass(frozen=True)
class MethodSpec:
    """A method's declaration: its name (the package's), a one-line description for reports, its
    options dataclass (defaults, descriptions and constraints: the schema of ``model.NAME`` is
    generated from it), its facts (or a function of its options returning them) and where its
    ``nn.Module`` lives, relative to the package (``".model:Class"``)."""

    name: str
    description: str
    options: type
    facts: MethodFacts | Callable[[Any], MethodFacts]
    model: str

    def facts_for(self, options: Any) -> MethodFacts:
        """The facts of this method configured with ``options``."""
        return self.facts(options) if callable(self.facts) else self.facts


@functools.cache
def _registry() -> dict[str, tuple[str, MethodSpec]]:
    """name -> (package, spec) of every method package found on this package's path."""
    found: dict[str, tuple[str, MethodSpec]] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.ispkg:
            continue
        package = f"{__name__}.{info.name}"
        spec = getattr(importlib.import_module(package), "METHOD", None)
        if spec is None:
            continue
        if not isinstance(spec, MethodSpec) or spec.name != info.name:
            raise TypeError(f"{package}.METHOD must be a MethodSpec named {info.name!r}")
        found[spec.name] = (package, spec)
    return found


def refresh() -> None:
    """Forget the discovered methods and the schemas generated from them (after a method package
    was added to the path at run time)."""
    from tvrkit.config.schema import forget_schemas

    _registry.cache_clear()
    forget_schemas()


def method_names() -> tuple[str, ...]:
    """Every registered method name, sorted."""
    return tuple(_registry())


def method_spec(name: str) -> MethodSpec:
    """The :class:`MethodSpec` of ``name``; :class:`~tvrkit.errors.ConfigError` if unknown."""
    from tvrkit.errors import ConfigError

    registry = _registry()
    if name not in registry:
        raise ConfigError(f"model.method: unknown method {name!r}; one of {', '.join(registry)}")
    return registry[name][1]


def get_method(name: str) -> type[Method]:
    """The :class:`~tvrkit.models.methods.base.Method` subclass of ``name`` (imports torch)."""
    spec = method_spec(name)
    module, cls = spec.model.split(":")
    return getattr(importlib.import_module(module, package=_registry()[name][0]), cls)


def build_model(cfg: ModelConfig) -> Method:
    """The model of ``cfg.method`` as ``cfg`` describes it (backbone weights loaded from
    ``cfg.backbone.pretrained`` if set)."""
    return get_method(cfg.method)(cfg)


def method_facts(cfg: ModelConfig) -> MethodFacts:
    """The facts of the method ``cfg`` configures (torch-free)."""
    return method_spec(cfg.method).facts_for(cfg.options)


def model_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``model.schema.json`` completed from the code: ``method`` is one of the registered names
    (default :data:`DEFAULT_METHOD`), ``model.backbone`` and each ``model.NAME`` are the schemas
    generated from the backbone's and each method's options dataclass."""
    from tvrkit.models.config import BackboneConfig

    properties = dict(schema["properties"])
    properties["method"] = {**properties["method"], "enum": list(method_names()), "default": DEFAULT_METHOD}
    properties["backbone"] = dataclass_schema(BackboneConfig)
    for name, (_, spec) in _registry().items():
        properties[name] = dataclass_schema(spec.options, f"Options of model.method: {name} ({spec.description}); "
                                            f"read only when model.method is {name}. See docs/methods.md.")
    return {**schema, "properties": properties}
