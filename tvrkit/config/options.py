"""Options dataclasses that carry their own schema: defaults, descriptions and constraints in one place.

A frozen dataclass whose fields are declared with :func:`option` holds everything a config user
sees: the default (the dataclass default), the description and the allowed values (field
metadata). :func:`dataclass_schema` turns such a dataclass into the JSON Schema fragment that
validates its YAML section, so no hand-written schema has to be kept equal to the code. Nested
option groups are dataclass fields (built with ``factory=``). Torch-free: configs are validated
before any model exists.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

from tvrkit.config.dataclass import to_dict

_SCALARS: dict[Any, str] = {bool: "boolean", int: "integer", float: "number", str: "string"}
_ARRAY = "array:"  # metadata keys with this prefix constrain the tuple itself, not its items


def option(
    default: Any = dataclasses.MISSING,
    description: str = "",
    *,
    factory: Callable[[], Any] | None = None,
    choices: Sequence[Any] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: float | None = None,
    exclusive_maximum: float | None = None,
    min_length: int | None = None,
    pattern: str | None = None,
    multiple_of: int | None = None,
    min_items: int | None = None,
    max_items: int | None = None,
    unique_items: bool = False,
    ref: str | None = None,
) -> Any:
    """A dataclass field with its default and, in its metadata, the description and the allowed
    values: ``choices``, bounds, ``min_length``, ``pattern`` and ``multiple_of`` apply to the value
    (to the items of a tuple field), ``min_items`` / ``max_items`` / ``unique_items`` to a tuple.
    ``factory`` builds a nested option group (or any mutable default). ``ref`` names the schema
    (``urn:tvrkit:REF``) that describes a section another package owns, defaults included."""
    if not description:
        raise ValueError("an option needs a description: it is what users read in the schema and the docs")
    bounds = {"minimum": minimum, "maximum": maximum, "exclusiveMinimum": exclusive_minimum,
              "exclusiveMaximum": exclusive_maximum, "minLength": min_length, "pattern": pattern,
              "multipleOf": multiple_of}
    sizes = {"minItems": min_items, "maxItems": max_items, "uniqueItems": unique_items or None}
    meta: dict[str, Any] = {"description": description, **{k: v for k, v in bounds.items() if v is not None}}
    if choices is not None:
        meta["enum"] = list(choices)
    if ref is not None:
        meta["$ref"] = ref
    meta.update({_ARRAY + k: v for k, v in sizes.items() if v is not None})
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _type_schema(tp: Any, bounds: dict[str, Any]) -> dict[str, Any]:
    """JSON Schema of a type hint: scalars, ``X | None``, ``tuple[X, ...]`` and nested dataclasses."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        nullable = ["null"] if len(args) < len(typing.get_args(tp)) else []
        if len(args) > 1 and all(a in _SCALARS for a in args):  # e.g. str | int: a size as text or bytes
            return {"type": [_SCALARS[a] for a in args] + nullable, **bounds}
        if len(args) != 1:
            raise TypeError(f"unsupported option type {tp}: X | None or unions of scalars")
        inner = _type_schema(args[0], bounds)
        if "enum" in inner:
            inner["enum"] = [*inner["enum"], None]
        return {**inner, "type": [inner["type"], "null"]}
    if origin in (tuple, list):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return {"type": "array", "items": _type_schema(args[0], bounds) if args else {}}
    if dataclasses.is_dataclass(tp):
        return dataclass_schema(tp)
    if tp in _SCALARS:
        return {"type": _SCALARS[tp], **bounds}
    raise TypeError(f"unsupported option type {tp!r}")


def dataclass_schema(cls: type, description: str | None = None) -> dict[str, Any]:
    """The JSON Schema of options dataclass ``cls``: one property per field with its type, default,
    description and constraints; unknown keys are rejected (``additionalProperties: false``)."""
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for f in dataclasses.fields(cls):
        meta = dict(f.metadata)
        text = meta.pop("description", None)
        if text is None:
            raise TypeError(f"{cls.__name__}.{f.name}: declare it with tvrkit.config.options.option(...)")
        if "$ref" in meta:  # a section another package owns: its schema holds its keys and defaults
            section = _field_default(f)
            if section is not dataclasses.MISSING and to_dict(section) != to_dict(type(section)()):
                raise TypeError(f"{cls.__name__}.{f.name}: the default of a $ref section is its own defaults")
            properties[f.name] = {"$ref": f"urn:tvrkit:{meta['$ref']}", "description": text}
            continue
        sizes = {k[len(_ARRAY):]: meta.pop(k) for k in list(meta) if k.startswith(_ARRAY)}
        enum = meta.pop("enum", None)
        node = _type_schema(hints[f.name], meta)
        if enum is not None:
            (node["items"] if "items" in node else node)["enum"] = enum  # a tuple's choices are its items'
        node.update(sizes)
        default = _field_default(f)
        if default is dataclasses.MISSING:
            required.append(f.name)
            properties[f.name] = {**node, "description": text}
        else:
            properties[f.name] = {**node, "default": to_dict(default), "description": text}
    doc = (description or cls.__doc__ or "").strip()
    schema = {"type": "object", "additionalProperties": False, "default": {}, "description": " ".join(doc.split()),
              "properties": properties}
    return {**schema, "required": required} if required else schema


def _field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING
