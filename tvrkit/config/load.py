"""Load a stage config: YAML file and/or a base dict, ``--set`` overrides, schema
defaults, validation (every problem at once, before any work), then a dataclass."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import yaml

from tvrkit.config.dataclass import from_dict, to_dict
from tvrkit.config.overrides import apply_overrides
from tvrkit.config.schema import fill_defaults, load_schema, validate_document
from tvrkit.config.shipped import resolve_config_path
from tvrkit.errors import ConfigError
from tvrkit.fsutil import write_text_atomic

T = TypeVar("T")
RESOLVED_NAME = "config.resolved.yaml"


def read_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML mapping; a missing file or a non-mapping is a :class:`ConfigError`."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the top level must be a mapping, got {type(data).__name__}")
    return data


def resolve_config(
    schema: str,
    base: dict[str, Any] | None = None,
    overrides: list[str] | tuple[str, ...] = (),
) -> dict[str, Any]:
    """Merge ``base`` with ``overrides``, fill schema defaults and validate; return the dict."""
    doc = apply_overrides(base or {}, overrides, schema)
    doc = fill_defaults(doc, load_schema(schema))
    validate_document(doc, schema)
    return doc


def load_config(
    schema: str,
    cls: type[T],
    path: str | os.PathLike[str] | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    base: dict[str, Any] | None = None,
) -> T:
    """Load YAML ``path`` (merged over ``base``), apply overrides, validate, build ``cls``."""
    doc = dict(base or {})
    if path is not None:
        doc = merge(doc, read_yaml(resolve_config_path(path)))
    return from_dict(cls, resolve_config(schema, doc, overrides))


def save_resolved(config: Any, out_dir: str | os.PathLike[str], name: str = RESOLVED_NAME) -> Path:
    """Write the fully resolved config next to a stage's outputs (atomically)."""
    path = Path(out_dir) / name
    write_text_atomic(path, yaml.safe_dump(to_dict(config), sort_keys=False))
    return path


def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """``b`` over ``a``, recursing into mappings both have (neither input is changed)."""
    out = dict(a)
    for key, value in b.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out
