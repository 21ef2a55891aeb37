"""``run_verify``: a clean set passes; damage is found and named (shard and, where possible, video)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from shard_testdata import sharded_root

from tvrkit.errors import DataError
from tvrkit.fsutil import sha256_file
from tvrkit.shards.config import VerifyConfig
from tvrkit.shards.formats.tario import END_OF_ARCHIVE, member_bytes
from tvrkit.shards.manifest import read_manifest
from tvrkit.shards.staging import frame_member, meta_bytes, meta_member
from tvrkit.shards.verify import describe_problem, run_verify


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return sharded_root(tmp_path_factory.mktemp("verify") / "root")


@pytest.fixture
def root(pristine, tmp_path) -> Path:
    copy = tmp_path / "root"
    shutil.copytree(pristine / "shards", copy / "shards", ignore=shutil.ignore_patterns(".staging"))
    return copy


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_clean_shards_pass(root):
    report = run_verify(VerifyConfig(root=str(root)))
    assert report["ok"] and report["problems"] == []
    assert report["shards"] == 2 + 2 + 1 + 1  # wds train/test (multiple 2) + one lmdb env per split


@pytest.mark.parametrize("fmt,file", [("wds", "train-000001.tar"), ("lmdb", "data.mdb")])
@pytest.mark.parametrize("quick", [True, False])
def test_flipped_byte_names_the_shard(root, fmt, file, quick):
    bad = root / "shards" / fmt / "train" / file
    _flip(bad, bad.stat().st_size // 3)
    report = run_verify(VerifyConfig(root=str(root), quick=quick))
    assert not report["ok"]
    assert {p["shard"] for p in report["problems"]} == {str(bad)}
    assert any("sha256" in p["error"] for p in report["problems"])


def test_truncated_and_missing_shards_are_named(root):
    cut = root / "shards" / "wds" / "test" / "test-000001.tar"
    cut.write_bytes(cut.read_bytes()[:1500])
    (root / "shards" / "wds" / "train" / "train-000000.tar").unlink()
    problems = run_verify(VerifyConfig(root=str(root), formats=("wds",)))["problems"]
    assert {Path(p["shard"]).name for p in problems} == {"test-000001.tar", "train-000000.tar"}
    assert any("truncated" in p["error"] or "past the end" in p["error"] for p in problems)
    assert any(p["error"] == "missing" for p in problems)


def _rewrite_shard(split_dir: Path, file: str, members: list[bytes]) -> None:
    """Replace a shard with consistent hash and size, as if it was written wrong, not damaged later."""
    path = split_dir / file
    path.write_bytes(b"".join(members) + END_OF_ARCHIVE)
    manifest = read_manifest(split_dir)
    for shard in manifest["shards"]:
        if shard["file"] == file:
            shard.update(sha256=sha256_file(path), bytes=path.stat().st_size)
    (split_dir / "manifest.json").write_text(json.dumps(manifest))


def test_undecodable_frame_names_the_video(root):
    split_dir = root / "shards" / "wds" / "test"
    record = read_manifest(split_dir)["shards"][0]
    vid = record["video_ids"][0]
    members = [member_bytes(frame_member(vid, i), b"\xff\xd8 not a jpeg" if i == 2 else _jpeg())
               for i in range(record["frames"])]
    meta = {"video_id": vid, "frames": record["frames"], "fps": 3.0}
    members.append(member_bytes(meta_member(vid), meta_bytes(meta)))
    _rewrite_shard(split_dir, record["file"], members)
    assert run_verify(VerifyConfig(root=str(root), formats=("wds",), quick=True))["ok"], "quick does not decode"
    problems = run_verify(VerifyConfig(root=str(root), formats=("wds",)))["problems"]
    assert [(p.get("video_id"), "frame 2" in p["error"]) for p in problems] == [(vid, True)]
    assert f"video {vid}:" in describe_problem(problems[0])


def test_frame_count_mismatch_names_the_video(root):
    split_dir = root / "shards" / "wds" / "test"
    record = read_manifest(split_dir)["shards"][0]
    vid = record["video_ids"][0]
    members = [member_bytes(frame_member(vid, i), _jpeg()) for i in range(record["frames"])]
    members.append(member_bytes(meta_member(vid), meta_bytes({"video_id": vid, "frames": 99, "fps": 3.0})))
    _rewrite_shard(split_dir, record["file"], members)
    problems = run_verify(VerifyConfig(root=str(root), formats=("wds",), quick=True))["problems"]
    assert any(p.get("video_id") == vid and "meta says 99" in p["error"] for p in problems)


def test_no_shards_is_an_error(tmp_path):
    with pytest.raises(DataError, match="no sharded splits"):
        run_verify(VerifyConfig(root=str(tmp_path)))


def _jpeg() -> bytes:
    import numpy as np

    from tvrkit.shards.staging import encode_jpeg

    return encode_jpeg(np.full((8, 8, 3), 128, np.uint8), 90)
