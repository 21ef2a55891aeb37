"""The loaders on real generated shards: batch contents, masks, determinism, resume, caption
modes, corrupt and missing videos, agreement between the lmdb, wds and raw readers, and the
uint8 batches normalised on the device exactly as the float batches used to be."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
import torch
from shard_testdata import sharded_root

from tvrkit.data.config import DataConfig
from tvrkit.data.device import DeviceBatches, normalise_frames
from tvrkit.data.loader import build_train_loader, build_video_loader, split_texts
from tvrkit.errors import DataError

FORMATS = ["wds", "lmdb", "raw"]


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return sharded_root(tmp_path_factory.mktemp("loader") / "root")


def _cfg(root: Path, **kw) -> DataConfig:
    base = dict(root=str(root), batch_size=3, eval_batch_size=2, workers=0, max_frames=4, image_size=32)
    return DataConfig(**{**base, **kw})


@pytest.mark.parametrize("fmt", FORMATS)
def test_train_batches(root, fmt):
    loader = build_train_loader(_cfg(root, format=fmt), image_size=224, epoch=0)
    batches = list(loader)
    assert len(loader) == len(batches) == 4  # 5 readable videos x 2 captions = 10 pairs, batch 3
    b = batches[0]
    assert b["frames"].shape == (3, 4, 3, 32, 32) and b["frames"].dtype == torch.uint8
    assert b["frame_mask"].shape == (3, 4) and b["frame_mask"].dtype == torch.bool
    assert b["tokens"].shape == (3, 32) and b["tokens"].dtype == torch.long
    assert all(c.split("#")[0] == v for c, v in zip(b["caption_ids"], b["video_ids"], strict=True))
    pairs = {c for batch in batches for c in batch["caption_ids"]}
    assert len(pairs) == 10 and "v002#0" not in pairs, "missing video left out, never replaced"


def test_masked_frames_are_padding_not_copies(root):
    loader = build_video_loader(_cfg(root, format="wds", max_frames=12), "train", 224)
    for batch in loader:
        for vid, frames, mask in zip(batch["video_ids"], batch["frames"], batch["frame_mask"], strict=True):
            n = 2 + int(vid[1:]) % 4  # seconds: 1 fps from 3 fps gives one frame per second
            assert mask.tolist() == [True] * n + [False] * (12 - n)
            assert frames[n:].abs().sum() == 0 and frames[:n].abs().sum() > 0


def test_formats_give_the_same_frames(root):
    out = {}
    for fmt in FORMATS:
        batches = list(build_video_loader(_cfg(root, format=fmt), "train", 224))
        out[fmt] = (sum((b["video_ids"] for b in batches), []), torch.cat([b["frames"] for b in batches]))
    assert out["wds"][0] == out["lmdb"][0] == out["raw"][0] == ["v000", "v001", "v003", "v004", "v005"]
    assert torch.equal(out["wds"][1], out["lmdb"][1])
    # raw skips the JPEG round trip; normalised values differ by JPEG error only
    assert (normalise_frames(out["wds"][1]) - normalise_frames(out["raw"][1])).abs().mean() < 0.2


def test_train_order_depends_on_seed_and_epoch_and_resumes(root):
    cfg = _cfg(root, format="lmdb")
    first = [b["caption_ids"] for b in build_train_loader(cfg, 224, epoch=0)]
    again = list(build_train_loader(cfg, 224, epoch=0))
    assert [b["caption_ids"] for b in again] == first
    assert [b["caption_ids"] for b in build_train_loader(cfg, 224, epoch=1)] != first
    resumed = build_train_loader(cfg, 224, epoch=0, start_batch=2)
    assert len(resumed) == 2 and resumed.batch_sampler.total_batches == 4
    tail = list(resumed)
    assert [b["caption_ids"] for b in tail] == first[2:]
    assert torch.equal(tail[0]["frames"], again[2]["frames"]), "random frames repeat exactly on resume"


def test_workers_give_the_same_batches(root):
    cfg = _cfg(root, format="wds")
    inline = list(build_train_loader(cfg, 224, epoch=3))
    parallel = list(build_train_loader(dataclasses.replace(cfg, workers=2), 224, epoch=3))
    assert [b["caption_ids"] for b in parallel] == [b["caption_ids"] for b in inline]
    assert all(torch.equal(a["frames"], b["frames"]) for a, b in zip(inline, parallel, strict=True))


def test_random_caption_mode_one_pair_per_video(root):
    loader = build_train_loader(_cfg(root, format="lmdb", caption_mode="random", batch_size=5), 224, epoch=0)
    (batch,) = list(loader)
    assert sorted(batch["video_ids"]) == ["v000", "v001", "v003", "v004", "v005"]
    epochs = [tuple(sorted(next(iter(build_train_loader(
        _cfg(root, format="lmdb", caption_mode="random", batch_size=5), 224, epoch=e)))["caption_ids"]))
        for e in range(6)]
    assert len(set(epochs)) > 1, "the caption drawn per video changes with the epoch"


def test_image_size_from_config_wins(root):
    batch = next(iter(build_video_loader(_cfg(root, format="lmdb", image_size=None), "test", 40)))
    assert batch["frames"].shape[-2:] == (40, 40)


def test_corrupt_video_skipped_with_warning_or_raised(root, caplog):
    # v007's compressed file is garbage but marked ok: the raw reader finds out when reading it
    with caplog.at_level(logging.WARNING):
        batches = list(build_video_loader(_cfg(root, format="raw"), "test", 224))
    assert sum((b["video_ids"] for b in batches), []) == ["v006", "v008", "v009"]
    assert any("corrupt sample v007" in r.getMessage() for r in caplog.records)
    with pytest.raises(DataError, match="v007"):
        list(build_video_loader(_cfg(root, format="raw", on_corrupt="raise"), "test", 224))


def test_split_texts_maps_captions_to_videos(root):
    texts = split_texts(_cfg(root), "test")
    assert texts.caption_ids == ["v006#0", "v006#1", "v007#0", "v007#1", "v008#0", "v008#1", "v009#0", "v009#1"]
    assert texts.tokens.shape == (8, 32)
    assert texts.video_index(["v009", "v006", "v008"]).tolist() == [1, 1, -1, -1, 2, 2, 0, 0]


def test_unsharded_split_is_a_clear_error(root, tmp_path):
    with pytest.raises(DataError, match="manifest.json missing"):
        build_video_loader(_cfg(tmp_path, format="wds"), "test", 224)


def _float_path(batch: dict) -> torch.Tensor:
    """The float batch the loaders built before batches became uint8 (commit 2178f2e's Collate):
    each video's frames ``x * (1 / (255 std)) - mean / std`` written into a zeroed batch."""
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

    std = torch.tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)
    scale, bias = 1.0 / (255.0 * std), -torch.tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1) / std
    out = torch.zeros(batch["frames"].shape)
    for i, mask in enumerate(batch["frame_mask"]):
        n = int(mask.sum())
        torch.mul(batch["frames"][i, :n], scale, out=out[i, :n]).add_(bias)
    return out


@pytest.mark.parametrize("workers", [0, 2])
def test_uint8_batches_normalise_bit_for_bit_like_the_float_path(root, workers):
    cfg = _cfg(root, format="wds", max_frames=12, workers=workers)
    raw = list(build_train_loader(cfg, 224, epoch=0))
    on_device = list(DeviceBatches(build_train_loader(cfg, 224, epoch=0, device="cpu"), "cpu"))
    assert len(on_device) == len(raw) and not any(b["frame_mask"].all() for b in raw), "padding is exercised"
    for u8, normalised in zip(raw, on_device, strict=True):
        assert normalised["frames"].dtype == torch.float32
        assert torch.equal(normalised["frames"], _float_path(u8))
        assert not normalised["frames"][~u8["frame_mask"]].signbit().any(), "padding is +0.0, not -0.0"
        assert normalised["caption_ids"] == u8["caption_ids"] and torch.equal(normalised["tokens"], u8["tokens"])
