"""Which runs a comparison makes (pure, torch-free): the recipe variants it compares and, for each,
the train config under the shared protocol.

The protocol is the base config: its data, backbone, budget, global batch, optimizer and evaluation.
A recipe contributes what makes its method: its ``model`` section without the backbone (the method
name, its options and, where the recipe has them, its temporal settings) and, with ``recipe_optim``,
its ``optim`` section. Method options that share a name with a data key (``max_frames``,
``max_words``: the sizes some methods build learned matrices for) follow the protocol's data, so that
every method sees the same frames and words.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tvrkit.compare.config import CompareConfig
from tvrkit.config import read_yaml
from tvrkit.config.shipped import SHIPPED_DIR, resolve_config_path
from tvrkit.errors import ConfigError

#: the section of a recipe that the comparison takes from it (``optim`` only with ``recipe_optim``)
METHOD_SECTIONS = ("model",)


@dataclass(frozen=True)
class Variant:
    """One row of the comparison: a shipped recipe (``msrvtt-<name>-vit-b32``) and its method."""

    name: str
    method: str
    recipe: Path


def recipe_variants(cfg: CompareConfig, directory: Path = SHIPPED_DIR) -> list[Variant]:
    """Every shipped recipe ``<prefix><name><suffix>.yaml`` with its ``model.method``, sorted by name."""
    out = []
    for path in sorted(directory.glob(f"{cfg.recipe_prefix}*{cfg.recipe_suffix}.yaml")):
        name = path.stem[len(cfg.recipe_prefix): len(path.stem) - len(cfg.recipe_suffix)]
        method = (read_yaml(path).get("model") or {}).get("method")
        if name and method:
            out.append(Variant(name=name, method=method, recipe=path))
    return out


def select_variants(cfg: CompareConfig, available: list[Variant]) -> list[Variant]:
    """The variants ``cfg.methods`` names: ``all``, a variant name, or a method name (all its variants)."""
    if "all" in cfg.methods:
        return available
    chosen: list[Variant] = []
    for wanted in cfg.methods:
        hits = [v for v in available if wanted in (v.name, v.method)]
        if not hits:
            names = ", ".join(sorted({v.name for v in available} | {v.method for v in available}))
            raise ConfigError(f"methods: {wanted!r} names no shipped recipe; one of: all, {names}")
        chosen += [v for v in hits if v not in chosen]
    return chosen


def _align_to_data(section: dict[str, Any], data: dict[str, Any]) -> list[str]:
    """Set method options named like data keys to the protocol's values; return the keys changed."""
    changed = []
    for key, value in list(section.items()):
        if isinstance(value, dict):
            changed += [f"{key}.{k}" for k in _align_to_data(value, data)]
        elif key in data and value != data[key]:
            section[key] = data[key]
            changed.append(key)
    return changed


def row_config(cfg: CompareConfig, base: dict[str, Any], variant: Variant) -> tuple[dict[str, Any], list[str]]:
    """The train config document of ``variant`` under the base protocol, and the dotted keys that
    were aligned to the protocol's data (reported in the table)."""
    recipe = read_yaml(variant.recipe)
    doc = copy.deepcopy(base)
    model = {k: copy.deepcopy(v) for k, v in recipe["model"].items() if k != "backbone"}
    model["backbone"] = copy.deepcopy((base.get("model") or {}).get("backbone") or {})
    data = doc.get("data") or {}
    aligned = []
    for key, value in model.items():
        if isinstance(value, dict) and key not in ("backbone", "temporal"):
            aligned += [f"model.{key}.{k}" for k in _align_to_data(value, data)]
    doc["model"] = model
    if cfg.recipe_optim and "optim" in recipe:
        doc["optim"] = copy.deepcopy(recipe["optim"])
    doc.pop("out", None)
    return doc, aligned


def base_document(cfg: CompareConfig) -> dict[str, Any]:
    """The base config as written (overrides are applied per run, by the train stage's loader)."""
    doc = read_yaml(resolve_config_path(cfg.base))
    if not isinstance(doc.get("data"), dict):
        raise ConfigError(f"base config {cfg.base}: a train config with a data section is needed")
    return doc


def protocol_summary(cfg: CompareConfig, base_path: str) -> dict[str, Any]:
    """What every row shares and what varies, for compare.json."""
    varied = ["model (method, its options and temporal settings; backbone from the base)"]
    if cfg.recipe_optim:
        varied.append("optim (each recipe's optimizer and schedule)")
    return {
        "base": base_path,
        "overrides": list(cfg.overrides),
        "seeds": list(range(cfg.first_seed, cfg.first_seed + cfg.seeds)),
        "paired_seeds": "seed s sets train.seed and data.seed: the same data order and initial draws for every method",
        "shared": ["data", "model.backbone", "train (budget)", "data.batch_size (global)", "evaluation"]
        + ([] if cfg.recipe_optim else ["optim"]),
        "varied": varied,
        "interval": "95% Student's t over seeds: mean +- t(0.975, n-1) sd / sqrt(n); none with one seed",
        "reference": cfg.reference,
        "ms_per_query_1k": "text->video ranking time per query: the gallery-wide (coarse) part scaled "
        "linearly to 1,000 videos, the re-ranking of the top K as measured",
    }
