"""Map-style datasets over a reader: a training pair (frames + one caption) or a video
(frames only), and the collate function that stacks them into padded, masked batches.

Every random choice (caption, frames) comes from an rng seeded by (seed, epoch, item), so a
sample is the same whichever worker or rank loads it and however often the run resumes.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import numpy as np

from tvrkit.data.augment import VideoAugment
from tvrkit.data.config import AugmentConfig
from tvrkit.data.frame_indices import sample_frames
from tvrkit.data.transforms import FrameTransform
from tvrkit.errors import DataError
from tvrkit.shards.formats.base import CorruptSample, FrameReader

log = logging.getLogger(__name__)
MAX_SUBSTITUTES = 16  # consecutive unreadable samples before a training run gives up


@dataclasses.dataclass(frozen=True)
class Item:
    """One dataset entry: a video and the captions it may be paired with (none for videos only)."""

    video_id: str
    captions: tuple[tuple[str, str], ...] = ()  # (caption_id, caption)


@dataclasses.dataclass(frozen=True)
class FramePolicy:
    """How frames are chosen and shaped."""

    max_frames: int
    frame_rate: float
    sampling: str
    slice_framepos: str
    image_size: int
    augment: AugmentConfig | None = None  # training only (data.augment)


class ClipDataset:
    """``dataset[i]`` -> dict(frames_u8 [n,3,S,S] (n <= T), video_id[, tokens, caption_id]).

    An unreadable sample is counted; with ``on_corrupt="raise"`` it stops the run. Otherwise
    training (``substitute=True``) uses a readable item drawn uniformly at random instead, so
    batch shapes stay equal across ranks, and lists what it skipped in the sample's ``skipped``;
    evaluation logs it and returns None, which the collate drops (the video is then absent from
    ``video_ids``, never replaced by zeros).
    """

    def __init__(self, reader: FrameReader, items: list[Item], policy: FramePolicy, seed: int, epoch: int,
                 max_words: int | None, on_corrupt: str, substitute: bool) -> None:
        self.reader, self.items, self.policy = reader, items, policy
        self.seed, self.epoch, self.max_words = seed, epoch, max_words
        self.on_corrupt, self.substitute = on_corrupt, substitute
        self.transform = FrameTransform(policy.image_size)  # uint8 in the worker; the model's device normalises
        augment = policy.augment if policy.augment and policy.augment.active else None
        self.augment = VideoAugment(augment, policy.image_size, self.transform.crop) if augment else None
        # frames stored center-cropped have one size and nothing around them to crop from
        reader.check_frames(policy.image_size, random_crop=augment is not None and augment.crop_scale is not None)
        reader.prepare()  # here, in the main process: forked loader workers inherit it
        self.corrupt = 0  # per process: each worker counts what it skipped

    def __len__(self) -> int:
        return len(self.items)

    def _pick(self, rng: np.random.Generator) -> Any:
        p = self.policy
        return lambda info: sample_frames(info.num_frames, info.fps, p.max_frames, p.frame_rate, p.sampling,
                                          p.slice_framepos, rng)

    def load(self, index: int) -> dict[str, Any]:
        """Sample ``index`` (raises :class:`CorruptSample`)."""

        item = self.items[index]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        sample: dict[str, Any] = {"video_id": item.video_id}
        if item.captions:
            from tvrkit.data.tokenize import tokenize

            caption_id, caption = item.captions[int(rng.integers(len(item.captions)))]
            sample.update(caption_id=caption_id, tokens=tokenize([caption], self.max_words or 32)[0])
        indices, frames = self.reader.read(item.video_id, self._pick(rng))
        if not indices:
            raise CorruptSample(f"{item.video_id}: no frames")
        # uint8 crops only: a worker never builds (and never ships) a float copy of a frame
        sample["frames_u8"] = self.augment(frames, rng) if self.augment else self.transform.crop(frames)
        return sample

    def __getitem__(self, index: int) -> dict[str, Any] | None:
        skipped: list[tuple[str, str]] = []  # (video_id, reason) of the unreadable draws
        candidate = index
        for attempt in range(MAX_SUBSTITUTES if self.substitute else 1):
            try:
                sample = self.load(candidate)
            except CorruptSample as exc:
                if self.on_corrupt == "raise":
                    raise
                self.corrupt += 1
                skipped.append((self.items[candidate].video_id, str(exc)))
                # The replacement is drawn uniformly from the whole set (seeded by item and attempt,
                # so every rank and every resume draws the same one): each readable item is then as
                # likely as any other to stand in. "The next item" would be drawn once more per
                # unreadable neighbour, the item after a damaged run of k items k + 1 times as often.
                rng = np.random.default_rng([self.seed, self.epoch, index, attempt + 1])
                candidate = int(rng.integers(len(self.items)))
                continue
            if skipped:  # the trainer records each skipped item once (failures.jsonl, summary, one warning)
                sample["skipped"] = skipped
            return sample
        if self.substitute:
            raise DataError(f"{MAX_SUBSTITUTES} samples drawn for item {index} in a row are unreadable; "
                            "run `tvrkit verify` on the shards")
        log.warning("skipping corrupt sample %s: %s", *skipped[0])  # evaluation reads each video once
        return None


class Collate:
    """Stack samples into a batch; drops None (skipped) samples; keeps shapes when all are gone.

    Frames are copied into one preallocated uint8 ``[B, T, 3, S, S]`` tensor that is zero past
    each video's end (padding, masked out, never a copy of a real frame); the model's device
    normalises it (:mod:`tvrkit.data.device`). Inside a DataLoader worker it is allocated in
    shared memory, as torch's default collate does, so the batch crosses to the main process
    without another copy, at one byte per pixel.
    """

    def __init__(self, max_frames: int, image_size: int) -> None:
        self.max_frames, self.image_size = max_frames, image_size

    @staticmethod
    def _zeros(shape: tuple[int, ...]) -> Any:
        import math

        import torch

        # Both start zeroed without touching memory (calloc'd pages, a fresh shared-memory file),
        # so padding costs nothing until it is read.
        if torch.utils.data.get_worker_info() is None:
            return torch.zeros(shape, dtype=torch.uint8)
        empty = torch.empty(0, dtype=torch.uint8)
        storage = empty._typed_storage()._new_shared(math.prod(shape))  # as default_collate
        return empty.new(storage).view(shape)

    def __call__(self, samples: list[dict[str, Any] | None]) -> dict[str, Any]:
        import torch

        kept = [s for s in samples if s is not None]
        frames = self._zeros((len(kept), self.max_frames, 3, self.image_size, self.image_size))
        mask = torch.zeros(len(kept), self.max_frames, dtype=torch.bool)
        for i, sample in enumerate(kept):
            n = len(sample["frames_u8"])
            frames[i, :n] = sample["frames_u8"]
            mask[i, :n] = True
        batch: dict[str, Any] = {"frames": frames, "frame_mask": mask, "video_ids": [s["video_id"] for s in kept]}
        skipped = [item for s in kept for item in s.get("skipped", ())]
        if skipped:
            batch["skipped"] = skipped
        if kept and "tokens" in kept[0]:
            batch["tokens"] = torch.stack([s["tokens"] for s in kept])
            batch["caption_ids"] = [s["caption_id"] for s in kept]
        return batch
