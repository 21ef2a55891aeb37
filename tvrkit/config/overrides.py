"""``--set a.b=v`` overrides: the value is parsed by the type the schema gives that key,
so ``--set train.epochs=5`` is an int and ``--set model.name=1e3`` stays a string."""

from __future__ import annotations

from typing import Any

import yaml

from tvrkit.config.schema import resolve_ref, subschema
from tvrkit.errors import ConfigError

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_NULL = {"null", "none", "~", ""}
_ALWAYS_NULL = {"null", "~"}  # YAML's null: never read as a string where the schema allows null


def _types(node: dict[str, Any]) -> list[str]:
    node = resolve_ref(node)
    kind = node.get("type")
    if kind is None:
        kinds: list[str] = []
        for alt in node.get("anyOf", []) + node.get("oneOf", []):
            kinds += _types(alt)
        return kinds
    return [kind] if isinstance(kind, str) else list(kind)


def parse_value(raw: str, node: dict[str, Any], key: str) -> Any:
    """Parse ``raw`` as the first schema type of ``node`` that accepts it."""
    kinds = _types(node)
    if not kinds:
        return yaml.safe_load(raw)
    text = raw.strip()
    if "null" in kinds and text.lower() in _ALWAYS_NULL:  # before "string", which accepts any text
        return None
    for kind in kinds:
        try:
            if kind == "null" and text.lower() in _NULL:
                return None
            if kind == "boolean" and text.lower() in _TRUE | _FALSE:
                return text.lower() in _TRUE
            if kind == "integer":
                return int(text)
            if kind == "number":
                return float(text)
            if kind == "string":
                return raw
            if kind == "array":
                if text.startswith("["):
                    value = yaml.safe_load(text)
                else:
                    value = [v.strip() for v in text.split(",") if v.strip()]
                items = resolve_ref(node).get("items", {})
                return [parse_value(str(v), items, key) if isinstance(v, str) else v for v in value]
            if kind == "object":
                value = yaml.safe_load(text)
                if isinstance(value, dict):
                    return value
        except (ValueError, yaml.YAMLError):
            continue
    raise ConfigError(f"{key}: cannot read {raw!r} as {' or '.join(kinds)}")


def apply_overrides(doc: dict[str, Any], overrides: list[str] | tuple[str, ...], schema: str) -> dict[str, Any]:
    """Return a copy of ``doc`` with each ``key.path=value`` applied (typed by ``schema``)."""
    out = _deep_copy(doc)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, raw = item.split("=", 1)
        key = key.strip()
        value = parse_value(raw, subschema(schema, key), key)
        parts = key.split(".")
        cursor = out
        for part in parts[:-1]:
            if not isinstance(cursor.get(part), dict):
                cursor[part] = {}
            cursor = cursor[part]
        cursor[parts[-1]] = value
    return out


def _deep_copy(doc: Any) -> Any:
    # Tuples (click's repeatable options, dataclass fields) become lists: JSON Schema's "array".
    if isinstance(doc, dict):
        return {k: _deep_copy(v) for k, v in doc.items()}
    if isinstance(doc, (list, tuple)):
        return [_deep_copy(v) for v in doc]
    return doc
