"""``tvrkit shard --crop center``: frames stored as the loaders' center square, recorded in the
manifest, read back like full frames, and refused by loaders that need another size or a
random crop (the error names the manifest and the config key)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from shard_testdata import make_root

from tvrkit.data.config import AugmentConfig, DataConfig
from tvrkit.data.loader import build_train_loader, build_video_loader
from tvrkit.data.transforms import FrameTransform
from tvrkit.errors import ConfigError
from tvrkit.media.decode import decode_video
from tvrkit.shards.config import ShardConfig
from tvrkit.shards.formats.base import get_format
from tvrkit.shards.frames import decode_jpeg
from tvrkit.shards.manifest import read_manifest
from tvrkit.shards.stage import run_shard
from tvrkit.shards.staging import center_square, encode_jpeg

SIDE = 48  # the test videos are 64x48: the square is their full height


@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> tuple[Path, Path]:
    full, center = (tmp_path_factory.mktemp(name) / "root" for name in ("full", "center"))
    for root, crop in ((full, "none"), (center, "center")):
        make_root(root, {"train": 3})
        run_shard(ShardConfig(root=str(root), format="wds", workers=1, shard_multiple=1, crop=crop, crop_size=SIDE))
    return full, center


def _cfg(root: Path, **kw) -> DataConfig:
    return DataConfig(**{**dict(root=str(root), batch_size=3, eval_batch_size=3, workers=0, max_frames=4,
                                image_size=SIDE), **kw})


def test_manifest_records_the_crop_and_frames_are_the_loaders_square(roots):
    full, center = roots
    params = read_manifest(full / "shards" / "wds" / "train")["params"]
    assert params["crop"] == "none" and params["crop_size"] is None
    manifest = read_manifest(center / "shards" / "wds" / "train")
    assert manifest["params"]["crop"] == "center" and manifest["params"]["crop_size"] == SIDE
    entries = [e for e in get_format("wds").entries(center / "shards" / "wds" / "train" / manifest["shards"][0]["file"],
                                                    with_frames=True) if e.video_id == "v000" and e.frame == 0]
    stored = decode_jpeg(entries[0].data)
    original = decode_video(center / "compressed" / "v000.mp4").frames[:1]
    square = center_square(original, SIDE)
    assert square.shape == (1, SIDE, SIDE, 3)
    # the loaders' own crop of the full frame, JPEG-encoded once: nothing else touched it
    crop = FrameTransform(SIDE).crop(torch.from_numpy(original).permute(0, 3, 1, 2))
    assert np.array_equal(square[0], crop[0].permute(1, 2, 0).numpy())
    assert torch.equal(stored, decode_jpeg(encode_jpeg(square[0], 90)))


def test_center_shards_load_like_full_frames(roots):
    full, center = roots
    a = next(iter(build_video_loader(_cfg(full), "train", 224)))
    b = next(iter(build_video_loader(_cfg(center), "train", 224)))
    assert a["video_ids"] == b["video_ids"] and torch.equal(a["frame_mask"], b["frame_mask"])
    assert b["frames"].shape[-2:] == (SIDE, SIDE)
    # the same crop of the same frames; only the JPEG error of encoding another image differs
    assert (a["frames"].float() - b["frames"].float()).abs().mean() < 12


def test_loader_refuses_another_size_or_a_random_crop(roots):
    _, center = roots
    manifest = str(center / "shards" / "wds" / "train" / "manifest.json")
    with pytest.raises(ConfigError, match="data.image_size") as err:
        build_video_loader(_cfg(center, image_size=32), "train", 224)
    assert manifest in str(err.value)
    random_crop = dataclasses.replace(_cfg(center), augment=AugmentConfig(crop_scale=(0.5, 1.0)))
    with pytest.raises(ConfigError, match="data.augment.crop_scale") as err:
        build_train_loader(random_crop, 224, epoch=0)
    assert manifest in str(err.value)
    flip = dataclasses.replace(_cfg(center), augment=AugmentConfig(flip=0.5))
    batches = list(build_train_loader(flip, 224, epoch=0))  # a flip needs nothing around the square
    assert len(batches) == 2 and batches[0]["frames"].shape == (3, 4, 3, SIDE, SIDE)
