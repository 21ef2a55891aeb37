"""Unreadable training samples: a uniformly drawn stand-in (no neighbour favoured), each skipped
item listed with its batch, recorded once in failures.jsonl (stage train), counted, warned once."""

from __future__ import annotations

import collections
import json

import pytest
import torch

from tvrkit.data import clips
from tvrkit.data.clips import ClipDataset, Collate, FramePolicy, Item
from tvrkit.errors import DataError
from tvrkit.runlog import read_failures
from tvrkit.train.skips import SkippedSamples

N = 40
BAD = {f"v{i:02d}" for i in (10, 11, 12, 13)}  # a damaged run of four neighbours


class _Reader(clips.FrameReader):
    """Every video has 4 frames of 8x8; those in ``bad`` raise as a damaged shard does."""

    def __init__(self, bad: set[str]) -> None:
        super().__init__(".", "train")
        self.bad = bad

    def video_ids(self) -> list[str]:
        return [f"v{i:02d}" for i in range(N)]

    def _open(self) -> None:
        pass

    def _read(self, video_id, pick):
        if video_id in self.bad:
            raise clips.CorruptSample(f"train/{video_id}: frame 2 does not decode")
        return [0, 1, 2, 3], torch.zeros(4, 3, 8, 8, dtype=torch.uint8)


def _dataset(bad: set[str], epoch: int = 0, substitute: bool = True) -> ClipDataset:
    policy = FramePolicy(max_frames=4, frame_rate=1.0, sampling="uniform", slice_framepos="uniform", image_size=8)
    items = [Item(f"v{i:02d}") for i in range(N)]
    return ClipDataset(_Reader(bad), items, policy, seed=0, epoch=epoch, max_words=None, on_corrupt="skip",
                       substitute=substitute)


def test_stand_ins_are_drawn_uniformly_not_the_next_item():
    draws = collections.Counter()
    for epoch in range(200):
        dataset = _dataset(BAD, epoch)
        for i in range(N):
            draws[dataset[i]["video_id"]] += 1
    assert not set(draws) & BAD
    # "the next readable item" would give v14 five draws per epoch (1000); uniform stand-ins give it
    # 1 + 4/36 per epoch on average, as every other readable item
    expected = 200 * N / (N - len(BAD))
    assert max(draws.values()) < 1.25 * expected and min(draws.values()) > 0.75 * expected
    assert _dataset(BAD, 3)[11]["video_id"] == _dataset(BAD, 3)[11]["video_id"]  # seeded: every rank agrees


def test_skipped_items_travel_with_their_batch():
    dataset = _dataset(BAD)
    batch = Collate(4, 8)([dataset[i] for i in (9, 10, 11)])
    skipped = [v for v, _ in batch["skipped"]]  # a stand-in may itself be unreadable and listed too
    assert skipped[0] == "v10" and "v11" in skipped and set(skipped) <= BAD
    assert all("does not decode" in reason for _, reason in batch["skipped"])
    assert "skipped" not in Collate(4, 8)([dataset[0]])


def test_all_unreadable_is_an_error_and_eval_drops_the_video(caplog):
    with pytest.raises(DataError, match="unreadable"):
        _dataset({f"v{i:02d}" for i in range(N)})[0]
    assert _dataset(BAD, substitute=False)[10] is None
    assert "v10" in caplog.text


def test_each_skipped_item_is_recorded_and_warned_once(tmp_path, caplog):
    dataset = _dataset(BAD)
    skips = SkippedSamples(tmp_path, write=True, resume=False)
    batches = [Collate(4, 8)([dataset[i] for i in range(b, b + 8)]) for b in range(0, N, 8)] * 3  # 3 epochs
    for batch in skips.wrap(batches):
        assert "skipped" not in batch
    assert skips.finish() == len(BAD)
    records = read_failures(tmp_path, "train")
    assert sorted(r["item"] for r in records) == sorted(BAD) and all("does not decode" in r["error"] for r in records)
    assert sum("skipping unreadable training video" in r.message for r in caplog.records) == len(BAD)
    # a resumed run keeps the earlier records and does not warn about them again
    caplog.clear()
    again = SkippedSamples(tmp_path, write=True, resume=True)
    again.add("v10", "again")
    again.add("v20", "frame 1 does not decode")
    assert again.finish() == len(BAD) + 1
    assert len(read_failures(tmp_path, "train")) == len(BAD) + 1 and caplog.text.count("skipping") == 1
    assert json.loads((tmp_path / "failures.jsonl").read_text().splitlines()[0])["stage"] == "train"
