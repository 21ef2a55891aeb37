"""Your own videos: a captions file (CSV with a header, or JSONL) with ``video_id`` and
``caption``, optionally ``split`` and ``start``/``end`` seconds. Without a split column,
``--test-fraction F`` sends a deterministic F of the *videos* (never single captions,
which would leak a video into both sides) to ``test`` and the rest to ``train``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tvrkit.catalog import Catalog
from tvrkit.datasets.base import BuildRequest
from tvrkit.datasets.parsing import CatalogBuilder, read_table, stable_fraction
from tvrkit.errors import ConfigError, DataError

REQUIRED = ("video_id", "caption")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read: {exc}") from exc
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: line {lineno} is not JSON: {exc}") from exc
        if not isinstance(row, dict):
            raise DataError(f"{path}: line {lineno} is not a JSON object")
        missing = [c for c in REQUIRED if c not in row]
        if missing:
            raise DataError(f"{path}: line {lineno} has no {', '.join(missing)}")
        rows.append({k: ("" if v is None else v) for k, v in row.items()} | {"_line": lineno})
    return rows


def _read_rows(path: Path) -> list[dict[str, Any]]:
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return _read_jsonl(path)
    return read_table(path, REQUIRED)


def _seconds(value: Any, path: Path, row: dict[str, Any], key: str) -> float | None:
    if value in ("", None):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DataError(f"{path}: line {row['_line']}: {key} {value!r} is not a number of seconds") from None


def parse_captions(path: Path, test_fraction: float = 0.0) -> Catalog:
    """Catalog of a captions file (see the module docstring)."""
    if not path.is_file():
        raise ConfigError(f"--captions {path}: no such file")
    rows = _read_rows(path)
    if not rows:
        raise DataError(f"{path}: no captions")
    has_split = any(str(r.get("split", "")).strip() for r in rows)
    builder = CatalogBuilder(path)
    counts: dict[str, int] = {}
    for row in rows:
        vid, text = str(row["video_id"]).strip(), str(row["caption"]).strip()
        if not vid or not text:
            raise DataError(f"{path}: line {row['_line']}: empty video_id or caption")
        k = counts[vid] = counts.get(vid, -1) + 1
        cid = builder.caption(vid, str(k), text, _seconds(row.get("start"), path, row, "start"),
                              _seconds(row.get("end"), path, row, "end"))
        if has_split:
            split = str(row.get("split", "")).strip()
            if not split:
                raise DataError(f"{path}: line {row['_line']}: empty split (other rows have one)")
        else:
            split = "test" if stable_fraction(vid) < test_fraction else "train"
        builder.split(split, vid, [cid])
    return builder.build()


class CustomDataset:
    """The ``custom`` entry of the registry."""

    name = "custom"

    def build(self, request: BuildRequest) -> Catalog:
        if request.captions is None:
            raise ConfigError("custom: --captions FILE is required (CSV or JSONL with video_id, caption)")
        return parse_captions(request.captions, request.test_fraction)

    def file_stems(self, video_id: str) -> tuple[str, ...]:
        return (video_id,)

    def default_videos_dir(self, root: Path) -> Path | None:
        return None


DATASET = CustomDataset()
