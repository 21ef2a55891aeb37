"""Find, load and apply the JSON Schemas in ``tvrkit/config/schemas/`` (what every config and
output document may hold). A config's schema file only titles the schema its options dataclass
generates (keys, defaults, descriptions and constraints live in the dataclass, one place);
output documents' schemas are written out in full.

Schemas reference each other as ``urn:tvrkit:NAME`` (``NAME.schema.json``), so a train
config can embed the model schema that the model package owns.
"""

from __future__ import annotations

import functools
import importlib
import json
from pathlib import Path
from typing import Any

from tvrkit.errors import ConfigError

URN_PREFIX = "urn:tvrkit:"


def schema_dir() -> Path:
    """Directory holding ``*.schema.json``: package data beside this module (checkout and wheel alike)."""
    return Path(__file__).resolve().parent / "schemas"


#: a schema holding this key is completed by the function it names (``"module:function"``, called
#: with the file's schema): e.g. the model schema gets one section per registered method
GENERATED_BY = "x-tvrkit-generated-by"
#: a schema file holding this key (``"module:Class"``) only titles the schema that options
#: dataclass generates: keys, defaults, descriptions and constraints (:mod:`tvrkit.config.options`)
DATACLASS = "x-tvrkit-dataclass"


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """Load ``NAME.schema.json`` (cached): generated from the options dataclass it names, or
    completed by the generator it names."""
    with open(schema_dir() / f"{name}.schema.json", encoding="utf-8") as fh:
        schema = json.load(fh)
    if DATACLASS in schema:
        from tvrkit.config.options import dataclass_schema

        schema = {**schema, **dataclass_schema(_named(schema[DATACLASS])), **schema}  # the file's title first
    if GENERATED_BY in schema:
        schema = _named(schema[GENERATED_BY])(schema)
    return schema


def config_schema_names() -> list[str]:
    """The configs whose schema an options dataclass generates (``tvrkit config schema NAME``)."""
    names = []
    for path in sorted(schema_dir().glob("*.schema.json")):
        head = json.loads(path.read_text(encoding="utf-8"))
        if DATACLASS in head or GENERATED_BY in head:
            names.append(path.name[: -len(".schema.json")])
    return names


def schema_text(name: str) -> str:
    """The JSON Schema of config ``name`` as generated (every key's type, default, description and
    allowed values; a ``$ref`` section is printed by its own name). :class:`ConfigError` if unknown."""
    names = config_schema_names()
    if name not in names:
        raise ConfigError(f"no config schema {name!r}; known: {', '.join(names)}")
    return json.dumps(load_schema(name), indent=2, ensure_ascii=False) + "\n"


def _named(ref: str) -> Any:
    """The object ``"module:name"`` names."""
    module, attr = ref.split(":")
    return getattr(importlib.import_module(module), attr)


def forget_schemas() -> None:
    """Drop the cached schemas and validators (after what a generator reads has changed)."""
    load_schema.cache_clear()
    _validator.cache_clear()


def resolve_ref(node: dict[str, Any]) -> dict[str, Any]:
    """Follow ``$ref: urn:tvrkit:NAME`` (possibly chained) to the referenced schema."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith(URN_PREFIX):
            raise ValueError(f"unsupported $ref {ref!r}: use {URN_PREFIX}NAME")
        node = load_schema(ref[len(URN_PREFIX):])
    return node


@functools.cache
def _validator(name: str) -> Any:
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    def retrieve(uri: str) -> Resource:
        if not uri.startswith(URN_PREFIX):
            raise KeyError(uri)
        return Resource.from_contents(load_schema(uri[len(URN_PREFIX):]), default_specification=DRAFT202012)

    schema = load_schema(name)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, registry=Registry(retrieve=retrieve))


def _dotted(path: Any) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def _describe(error: Any) -> str:
    """One line naming the dotted key and what is allowed there."""
    where = _dotted(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        prefix = "" if where == "<top level>" else where + "."
        keys = ", ".join(prefix + k for k in extra)
        return f"unknown key {keys}; allowed here: {', '.join(allowed) or '(none)'}"
    if error.validator == "enum":
        allowed = ", ".join(json.dumps(v) for v in error.validator_value)
        return f"{where}: {json.dumps(error.instance)} is not allowed; allowed: {allowed}"
    if error.validator == "type":
        want = error.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        return f"{where}: expected {want}, got {json.dumps(error.instance)}"
    if error.validator == "required":
        return f"{where}: {error.message}"
    return f"{where}: {error.message}"


def validation_errors(doc: Any, name: str) -> list[str]:
    """All problems of ``doc`` against schema ``name``, one readable line each."""
    errors = sorted(_validator(name).iter_errors(doc), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [_describe(e) for e in errors]


def validate_document(doc: Any, name: str) -> None:
    """Raise :class:`ConfigError` listing every problem of ``doc`` against schema ``name``."""
    problems = validation_errors(doc, name)
    if problems:
        raise ConfigError(f"invalid {name} document:\n  " + "\n  ".join(problems))


def subschema(name: str, dotted: str) -> dict[str, Any]:
    """The schema node for key ``dotted`` of schema ``name``; :class:`ConfigError` if unknown."""
    node = resolve_ref(load_schema(name))
    walked: list[str] = []
    for part in dotted.split("."):
        props = node.get("properties", {})
        if part not in props:
            where = ".".join(walked) or "<top level>"
            raise ConfigError(f"unknown key {dotted}; allowed under {where}: {', '.join(sorted(props)) or '(none)'}")
        node = resolve_ref(props[part])
        walked.append(part)
    return node


def fill_defaults(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``doc`` with every schema default filled in, recursively."""
    node = resolve_ref(node)
    out = dict(doc)
    for key, prop in node.get("properties", {}).items():
        prop = resolve_ref(prop)
        if key not in out and "default" in prop:
            out[key] = json.loads(json.dumps(prop["default"]))
        if prop.get("type") == "object" and "properties" in prop:
            if key not in out:
                out[key] = {}
            if isinstance(out[key], dict):
                out[key] = fill_defaults(out[key], prop)
    return out
