"""Turn validated config dicts into frozen dataclasses (and back), by type hints.

Lists become tuples so configs stay hashable and immutable; nested dataclass fields
are built recursively. Validation already happened against the schema, so an unknown
key here is a programming error (schema and dataclass out of sync), not a user error.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def _unwrap_optional(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _convert(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    tp = _unwrap_optional(tp)
    if dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return from_dict(tp, value)
    origin = typing.get_origin(tp)
    if origin in (tuple, list) and isinstance(value, (list, tuple)):
        args = typing.get_args(tp)
        inner = args[0] if args else Any
        return tuple(_convert(inner, v) for v in value)
    if origin is dict and isinstance(value, dict):
        _, inner = typing.get_args(tp) or (Any, Any)
        return {k: _convert(inner, v) for k, v in value.items()}
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build dataclass ``cls`` from ``data``; missing keys take the dataclass defaults. A class
    with a ``from_config(data)`` classmethod builds itself (and ``to_config()`` writes it back)."""
    if hasattr(cls, "from_config"):
        return cls.from_config(data)  # type: ignore[attr-defined]
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - names
    if unknown:
        raise TypeError(f"{cls.__name__} has no field(s) {sorted(unknown)}: schema and dataclass disagree")
    kwargs = {k: _convert(hints[k], v) for k, v in data.items()}
    return cls(**kwargs)


def to_dict(obj: Any) -> Any:
    """Inverse of :func:`from_dict`: dataclasses to dicts, tuples to lists (YAML/JSON-ready)."""
    if hasattr(obj, "to_config") and not isinstance(obj, type):
        return to_dict(obj.to_config())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj
