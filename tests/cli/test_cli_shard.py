"""``tvrkit shard``, ``tvrkit verify`` and ``tvrkit bench loader`` through click's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from shard_testdata import make_root

from tvrkit.cli import cli


def _run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "root"
    make_root(root, {"train": 3, "test": 2}, size="32x24", missing=("v001",))
    return root


def test_help_lists_commands():
    result = _run("--help")
    assert result.exit_code == 0
    for name in ("shard", "verify", "bench"):
        assert name in result.output
    assert "loader" in _run("bench", "--help").output


def test_shard_then_verify(root):
    result = _run("shard", "--root", str(root), "--format", "lmdb", "--split", "train", "--workers", "1",
                  "--jpeg-quality", "80")
    assert result.exit_code == 0, result.output
    assert "train: 2 videos" in result.output and "1 failed" in result.output
    manifest = json.loads((root / "shards" / "lmdb" / "train" / "manifest.json").read_text())
    assert manifest["params"]["jpeg_quality"] == 80
    assert not (root / "shards" / "lmdb" / "test").exists()
    summary = json.loads((root / "shards" / "lmdb" / "summary.json").read_text())
    assert summary["stage"] == "shard" and summary["ok"] == 2 and summary["failed"] == 1
    verified = _run("verify", "--root", str(root), "--format", "lmdb")
    assert verified.exit_code == 0 and "ok: 1 shard(s)" in verified.output


def test_shard_options_reach_the_config(root):
    result = _run("shard", "--root", str(root), "--shard-size", "1KB", "--shard-multiple", "1", "--set", "workers=1")
    assert result.exit_code == 0, result.output
    manifest = json.loads((root / "shards" / "wds" / "train" / "manifest.json").read_text())
    assert manifest["params"]["shard_size"] == 1000
    assert manifest["totals"]["shards"] == 2, "every video is larger than 1 KB: one shard each"


def test_verify_exits_1_naming_the_bad_shard(root):
    assert _run("shard", "--root", str(root), "--workers", "1").exit_code == 0
    bad = root / "shards" / "wds" / "test" / "test-000000.tar"
    data = bytearray(bad.read_bytes())
    data[700] ^= 0x01
    bad.write_bytes(bytes(data))
    result = _run("verify", "--root", str(root), "--format", "wds", "--quick")
    assert result.exit_code == 1
    assert str(bad) in result.output


@pytest.mark.parametrize("args", [["--format", "tar"], ["--jpeg-quality", "0"], ["--set", "nope=1"],
                                  ["--shard-size", "lots"]])
def test_bad_options_exit_2(root, args):
    from tvrkit.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["shard", "--root", str(root), *args])
    assert exc.value.code == 2
