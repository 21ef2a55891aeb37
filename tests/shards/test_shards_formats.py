"""The shard formats' layout: each format is one module holding its writer and its reader
behind ``formats/base.py``'s interface, and ``tvrkit.shards`` never imports ``tvrkit.data``
(the data loaders use the formats, not the reverse)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tvrkit
from tvrkit.errors import ConfigError, DataError
from tvrkit.shards.formats.base import FORMATS, FrameReader, ShardFormat, get_format

PACKAGE = Path(tvrkit.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_walk_finds_function_level_imports(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("import os\n\ndef f():\n    from tvrkit.data.loader import x\n    return x\n")
    assert imported_modules(source) == {"os", "tvrkit.data.loader"}


def test_shards_import_nothing_from_data() -> None:
    offenders = {str(p.relative_to(PACKAGE)): sorted(m for m in imported_modules(p) if m.startswith("tvrkit.data"))
                 for p in (PACKAGE / "shards").rglob("*.py")}
    assert {p: m for p, m in offenders.items() if m} == {}


def test_data_reads_shards_through_the_formats() -> None:
    """No format-specific reading code is left in ``tvrkit/data``: it reaches a shard format only
    through the registry (``formats.base``) and the format-neutral frame helpers."""
    allowed = {"tvrkit.shards.formats.base", "tvrkit.shards.frames", "tvrkit.shards.stream", "tvrkit.shards.remote"}
    used = {m for p in (PACKAGE / "data").rglob("*.py") for m in imported_modules(p) if m.startswith("tvrkit.shards")}
    assert used and used <= allowed


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_writes_lists_and_reads(name: str, tmp_path: Path) -> None:
    fmt = get_format(name)
    assert isinstance(fmt, ShardFormat) and fmt.name == name
    with pytest.raises(DataError, match="manifest.json missing"):
        fmt.reader(tmp_path, "train")  # a split that was never sharded is named, not a crash


def test_unknown_format_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown shard format 'zip'"):
        get_format("zip")


def test_readers_are_frame_readers(tmp_path: Path) -> None:
    from shard_testdata import sharded_root

    root = sharded_root(tmp_path / "root")
    for name in FORMATS:
        reader = get_format(name).reader(root, "train")
        assert isinstance(reader, FrameReader)
        assert reader.video_ids() == ["v000", "v001", "v003", "v004", "v005"]
