"""``tvrkit verify`` checks completeness against the catalog: a deleted split, a removed manifest or
a video the catalog marks ok but absent from its manifest is named, exit 1."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from shard_testdata import sharded_root

from tvrkit.cli import main
from tvrkit.shards.config import VerifyConfig
from tvrkit.shards.manifest import MANIFEST, read_manifest
from tvrkit.shards.verify import run_verify


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return sharded_root(tmp_path_factory.mktemp("complete") / "root", formats=("wds",))


@pytest.fixture
def root(pristine, tmp_path) -> Path:
    copy = tmp_path / "root"
    shutil.copytree(pristine, copy, ignore=shutil.ignore_patterns(".staging", "compressed"))
    return copy


def test_a_complete_set_passes(root):
    assert run_verify(VerifyConfig(root=str(root), quick=True))["problems"] == []


def test_a_deleted_split_is_named_and_exits_1(root, capsys):
    shutil.rmtree(root / "shards" / "wds" / "test")
    with pytest.raises(SystemExit) as exit_:
        main(["verify", "--root", str(root), "--quick"])
    assert exit_.value.code == 1
    assert "split test is missing" in capsys.readouterr().err


def test_every_split_deleted_still_names_them(root):
    for split in ("train", "test"):
        shutil.rmtree(root / "shards" / "wds" / split)
    problems = run_verify(VerifyConfig(root=str(root), quick=True))["problems"]
    assert sorted(p["error"].split(" is missing")[0] for p in problems) == ["split test", "split train"]


def test_a_removed_manifest_is_named(root):
    (root / "shards" / "wds" / "train" / MANIFEST).unlink()
    problems = run_verify(VerifyConfig(root=str(root), quick=True))["problems"]
    assert [p["shard"] for p in problems] == [str(root / "shards" / "wds" / "train")]


def test_a_video_dropped_from_the_manifest_is_named(root):
    out = root / "shards" / "wds" / "test"
    manifest = read_manifest(out)
    dropped = manifest["shards"][0]["video_ids"][0]
    manifest["shards"][0]["video_ids"] = manifest["shards"][0]["video_ids"][1:]
    (out / MANIFEST).write_text(json.dumps(manifest))
    errors = [p["error"] for p in run_verify(VerifyConfig(root=str(root), quick=True))["problems"]]
    assert any("catalog marks ok" in e and dropped in e for e in errors)
