"""The published recipes' data options: the references' frame sampling index for index, X-Pool's
augmentation on uint8 frames, the global batch divided over ranks, and ``data.val_from_train``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from repo_paths import FIXTURES
from shard_testdata import sharded_root

from tvrkit.data.augment import VideoAugment, random_resized_box
from tvrkit.data.batch_samplers import rank_batch_size
from tvrkit.data.config import AugmentConfig, DataConfig
from tvrkit.data.frame_indices import candidate_indices, clip4clip_grid, sample_frames
from tvrkit.data.holdout import HELDOUT, heldout_video_ids
from tvrkit.data.loader import build_train_loader, build_video_loader, split_texts
from tvrkit.errors import ConfigError

FIXTURES = FIXTURES / "reference"
SLICE_FRAMEPOS = {0: "head", 1: "tail", 2: "uniform"}  # CLIP4Clip's --slice_framepos numbers


def test_frame_indices_equal_the_reference_dataloaders():
    """``frame_indices.json`` holds the indices CLIP4Clip's ``MSRVTT_DataLoader._get_rawvideo`` and
    X-Pool's ``VideoCapture.load_frames_from_video(sample="uniform")`` read, made by running their
    code (CLIP4Clip 508ffa3, X-Pool bc88718) on a stand-in OpenCV capture whose frames encode
    their index: ``/work/ref/train-recipes/sampling_golden.py tests/fixtures/reference/frame_indices.json``."""
    golden = json.loads((FIXTURES / "frame_indices.json").read_text())
    for case in golden["clip4clip"]:
        got = sample_frames(case["num_frames"], case["fps"], case["max_frames"], case["frame_rate"], "clip4clip",
                            SLICE_FRAMEPOS[case["slice_framepos"]])
        assert got == case["indices"], case
    for case in golden["xpool"]:
        got = sample_frames(case["num_frames"], 30.0, case["max_frames"], 1.0, "xpool")
        assert got == case["indices"], case
    assert len(golden["clip4clip"]) == 12 and len(golden["xpool"]) == 7


def test_clip4clip_grid_differs_from_tvrkit_candidates_only_off_whole_multiples():
    assert clip4clip_grid(30, 3.0, 1.0) == candidate_indices(30, 3.0, 1.0) == list(range(0, 30, 3))
    assert clip4clip_grid(9, 3.0, 2.0) == [0, 1, 3, 4, 6, 7]
    assert candidate_indices(9, 3.0, 2.0) == [0, 2, 3, 4, 6, 8]
    assert clip4clip_grid(5, 3.0, 10.0) == [0, 1, 2, 3, 4]  # faster than stored: every frame
    assert clip4clip_grid(0, 3.0, 1.0) == []
    with pytest.raises(ValueError, match="at least 1 fps"):
        clip4clip_grid(10, 0.5, 1.0)


def test_random_resized_box_follows_scale_and_ratio():
    rng = np.random.default_rng(0)
    for _ in range(200):
        top, left, h, w = random_resized_box(224, 398, (0.5, 1.0), (3 / 4, 4 / 3), rng)
        assert 0 <= top <= 224 - h and 0 <= left <= 398 - w
        assert 0.5 * 224 * 398 * 0.95 <= h * w <= 224 * 398
        assert 3 / 4 * 0.95 <= w / h <= 4 / 3 * 1.05
    # no draw fits (ratio range far from the frame's): the center crop of the closest ratio
    assert random_resized_box(10, 100, (0.9, 1.0), (1.0, 1.0), np.random.default_rng(1)) == (0, 45, 10, 10)


def test_video_augment_same_box_for_every_frame_and_deterministic():
    frames = torch.arange(3 * 48 * 64, dtype=torch.int64).remainder(251).to(torch.uint8).view(1, 3, 48, 64)
    frames = frames.expand(3, -1, -1, -1).contiguous()  # three identical frames
    from tvrkit.data.transforms import FrameTransform

    crop = FrameTransform(32).crop
    aug = VideoAugment(AugmentConfig(crop_scale=(0.5, 1.0), flip=0.5), 32, crop)
    a = aug(frames, np.random.default_rng([4, 0, 7]))
    b = aug(frames, np.random.default_rng([4, 0, 7]))
    assert a.shape == (3, 3, 32, 32)
    assert a.dtype == torch.uint8 and torch.equal(a, b)
    assert torch.equal(a[0], a[1]) and torch.equal(a[1], a[2])
    outs = {aug(frames, np.random.default_rng(s)).sum().item() for s in range(8)}
    assert len(outs) > 1, "different draws crop differently"
    flip_only = VideoAugment(AugmentConfig(flip=1.0), 32, crop)
    assert torch.equal(flip_only(frames, np.random.default_rng(0)), crop(frames).flip(-1))


def test_global_batch_divides_over_ranks_and_accumulation():
    assert rank_batch_size(128, 4, 2) == 16
    assert rank_batch_size(32, 1) == 32
    with pytest.raises(ConfigError, match=r"data\.batch_size: the global batch 10 .* 4 rank\(s\) x train\.grad_accum"):
        rank_batch_size(10, 4)
    with pytest.raises(ConfigError, match=r"multiple of 6"):
        rank_batch_size(32, 2, 3)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return sharded_root(tmp_path_factory.mktemp("recipes") / "root", formats=("wds",))


def test_val_from_train_holds_videos_out_of_training(root):
    cfg = DataConfig(root=str(root), batch_size=2, eval_batch_size=2, workers=0, max_frames=2, image_size=16,
                     val_from_train=2, seed=3)
    held = heldout_video_ids(cfg)
    assert len(held) == 2 and held == heldout_video_ids(dataclasses.replace(cfg, workers=1))
    assert any(heldout_video_ids(dataclasses.replace(cfg, seed=s)) != held for s in range(4, 9)), "seed decides"
    trained = {v for b in build_train_loader(cfg, 224, epoch=0) for v in b["video_ids"]}
    assert trained and not trained & set(held)
    readable = set(held) - {"v002"}  # v002 is missing from the shards
    validated = [v for b in build_video_loader(cfg, HELDOUT, 224) for v in b["video_ids"]]
    assert set(validated) == readable
    texts = split_texts(cfg, HELDOUT)
    assert set(texts.video_ids) == set(held) and len(texts.caption_ids) == 2 * len(held)
    with pytest.raises(ConfigError, match=r"data\.val_from_train: 6 held-out videos leave nothing"):
        heldout_video_ids(dataclasses.replace(cfg, val_from_train=6))


def test_augmented_training_batches_are_uint8_and_repeat(root):
    cfg = DataConfig(root=str(root), batch_size=3, workers=0, max_frames=3, image_size=24, train_sampling="clip4clip",
                     augment=AugmentConfig(crop_scale=(0.5, 1.0), flip=0.5))
    first = list(build_train_loader(cfg, 224, epoch=0))
    again = list(build_train_loader(cfg, 224, epoch=0))
    assert first[0]["frames"].shape == (3, 3, 3, 24, 24) and first[0]["frames"].dtype == torch.uint8
    assert all(torch.equal(a["frames"], b["frames"]) for a, b in zip(first, again, strict=True))
    plain = list(build_train_loader(dataclasses.replace(cfg, augment=AugmentConfig()), 224, epoch=0))
    assert not all(torch.equal(a["frames"], b["frames"]) for a, b in zip(first, plain, strict=True))
