"""Finding videos by id under a folder, and the dataset registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from tvrkit.config.schema import load_schema
from tvrkit.datasets.locate import index_videos, locate_videos
from tvrkit.datasets.registry import DATASETS, get_dataset
from tvrkit.errors import ConfigError


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_locate_by_id_extension_and_nesting(tmp_path):
    avi = _touch(tmp_path / "movie" / "clip.00.01.avi")
    mp4 = _touch(tmp_path / "a" / "b" / "name with space é.mp4")
    _touch(tmp_path / "dup.mkv")
    dup_mp4 = _touch(tmp_path / "deep" / "dup.mp4")  # mp4 ranks before mkv whatever the depth
    _touch(tmp_path / "notes.txt")
    _touch(tmp_path / ".hidden.mp4.abc.tmp.mp4")
    index = index_videos(tmp_path)
    assert index["clip.00.01"] == avi and index["clip.00.01.avi"] == avi
    assert index["dup"] == dup_mp4
    assert "notes" not in index and not any(k.startswith(".") for k in index)
    found = locate_videos(["clip.00.01", "name with space é", "dup", "absent"], tmp_path, lambda v: (v,))
    assert found == {"clip.00.01": avi, "name with space é": mp4, "dup": dup_mp4, "absent": None}


def test_known_source_wins_and_aliases_are_tried(tmp_path):
    own = _touch(tmp_path / "elsewhere" / "x.mp4")
    _touch(tmp_path / "videos" / "abc.mp4")
    found = locate_videos(["x", "v_abc"], tmp_path / "videos", lambda v: (v, v[2:]), known={"x": str(own)})
    assert found == {"x": own, "v_abc": tmp_path / "videos" / "abc.mp4"}
    assert locate_videos(["x"], None, lambda v: (v,)) == {"x": None}


def test_registry_matches_the_config_schema_and_loads_every_dataset():
    assert list(DATASETS) == load_schema("prepare")["properties"]["dataset"]["enum"]
    for name in DATASETS:
        assert get_dataset(name).name == name
    with pytest.raises(ConfigError, match="unknown dataset 'nope'; known: msrvtt"):
        get_dataset("nope")
