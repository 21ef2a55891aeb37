"""``data.verify_frames``: a stored frame with one flipped byte still decodes (to damaged pixels)
unless the loader decodes strictly, when the sample is unreadable like any damaged one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from shard_testdata import quietly_damaged, sharded_root

from tvrkit.data import clips
from tvrkit.shards.formats.base import get_format
from tvrkit.shards.frames import decode_frames
from tvrkit.shards.manifest import read_manifest


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return sharded_root(tmp_path_factory.mktemp("strict") / "root", formats=("wds",))


def test_strict_decode_matches_the_lenient_one_on_good_frames(pristine):
    split = pristine / "shards" / "wds" / "train"
    entry = next(e for e in get_format("wds").entries(split / read_manifest(split)["shards"][0]["file"], True)
                 if e.frame is not None)
    assert decode_frames([entry.data], strict=True).equal(decode_frames([entry.data]))


def test_a_flipped_byte_is_unreadable_only_with_verify_frames(pristine, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(pristine, root)
    split = root / "shards" / "wds" / "train"
    shard = split / read_manifest(split)["shards"][0]["file"]
    entry = next(e for e in get_format("wds").entries(shard, True) if e.frame is not None)
    data = shard.read_bytes()
    shard.write_bytes(data.replace(entry.data, quietly_damaged(entry.data), 1))
    reader = get_format("wds").reader(root, "train")
    every = lambda info: range(info.num_frames)  # noqa: E731
    reader.read(entry.video_id, every)  # lenient: damaged pixels pass
    reader.verify_frames = True
    with pytest.raises(clips.CorruptSample, match="Corrupt JPEG data"):
        reader.read(entry.video_id, every)
