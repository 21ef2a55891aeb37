"""Training from a URL root (``data.root: http(s)://``, ``s3://``, ...): WebDataset shards
streamed to every rank and loader worker, with the local loader's samples, batches and resume.

``resolve_root`` mirrors the root's catalog and manifests locally (:mod:`tvrkit.shards.remote`);
evaluation reads the mirror like a local root (its splits' shards are fetched into it).
Training never holds the train split on disk: each epoch's shards are permuted (seeded) and
dealt to the ``ranks x workers`` slots (:func:`~tvrkit.shards.stream.assign_shards`); a worker
reads its shards in turn and emits their samples through a seeded bounded shuffle buffer
(``data.shuffle_buffer`` samples). Every sample of the split is read once per epoch. Every
worker emits the same whole number of micro-batches, the most any worker needs, so ranks
step together: a worker with fewer samples (the shard count or sizes do not divide evenly)
starts over on its own shards to fill them, so a few samples are seen twice in that epoch.
A sample's caption and frames depend only on (seed, epoch, item), exactly as on a local
root. The order is a pure function of (manifest, seed, epoch, ranks, workers), so a run
resumed at batch ``k`` skips what it already saw without loading it and continues with the
batches an uninterrupted run would have seen (with the same ranks and ``data.workers``).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from tvrkit.data.clips import ClipDataset, Item
from tvrkit.data.config import DataConfig
from tvrkit.errors import ConfigError, DataError, SourceUnavailable
from tvrkit.shards.formats.base import CorruptSample, FrameReader, Pick, VideoInfo, split_manifest
from tvrkit.shards.frames import decode_frames
from tvrkit.shards.remote import Retry, is_url, join, mirror_root, read_shard, source_url
from tvrkit.shards.stream import StreamedVideo, assign_shards, buffer_order, shard_videos, usable_workers

log = logging.getLogger(__name__)
_WORKER_STREAM = 0x5357  # generator stream of the per-worker shuffle seeds


def resolve_root(cfg: DataConfig) -> DataConfig:
    """``cfg`` with a URL ``data.root`` replaced by its local mirror (catalog and manifests
    fresh from the URL); a local root is returned unchanged. A URL root holds WebDataset
    shards only: LMDB environments and raw videos are read from a local disk."""
    if not is_url(cfg.root):
        return cfg
    if cfg.format != "wds":
        raise ConfigError(f"data.format: {cfg.format!r} is read from a local disk; a URL data.root "
                          f"({cfg.root}) streams WebDataset shards: set data.format=wds")
    splits = [s for s in (cfg.train_split, cfg.val_split, cfg.test_split) if s]
    mirror = mirror_root(cfg.root, splits, cfg.format, Retry(give_up_after=cfg.retry_seconds))
    return dataclasses.replace(cfg, root=str(mirror))


class StreamSource(FrameReader):
    """The train split of a mirrored URL root: its videos and shards from the manifest; reads
    come from the one streamed video a worker is turning into a sample."""

    def __init__(self, root: str, split: str) -> None:
        super().__init__(root, split)
        directory, manifest = split_manifest(self.root, "wds", split)
        self.manifest_file, self.stored_crop = directory / "manifest.json", manifest["params"]["crop_size"]
        self.shards: list[dict[str, Any]] = manifest["shards"]
        self.url = join(source_url(root) or "", "shards", "wds", split)
        self.video: StreamedVideo | None = None

    def video_ids(self) -> list[str]:
        return [v for shard in self.shards for v in shard["video_ids"]]

    def _open(self) -> None:
        """Nothing to open: the frames are in memory."""

    def _read(self, video_id: str, pick: Pick) -> tuple[list[int], Any]:
        video = self.video
        if video is None or video.video_id != video_id:
            raise CorruptSample(f"{self.split}/{video_id}: not in its shard at {self.url}")
        indices = list(pick(VideoInfo(len(video.jpegs), video.meta["fps"])))
        return indices, decode_frames([video.jpegs[i] for i in indices], self.verify_frames)


@dataclasses.dataclass(frozen=True)
class StreamPlan:
    """One rank's epoch: per worker, its read sequence of (shard, item) and its batches."""

    url: str  # the split's shard directory at the root's URL
    shards: list[dict[str, Any]]  # manifest records
    reads: list[list[tuple[int, int]]]  # [worker] -> (shard number, item index) in reading order
    batches: int  # micro-batches every worker emits
    batch_size: int
    seed: int  # of the worker shuffles (with epoch and rank)


def plan_epoch(cfg: DataConfig, source: StreamSource, items: list[Item], epoch: int, rank: int, world: int,
               batch_size: int) -> StreamPlan:
    """The reading plan of ``rank`` for ``epoch`` (every rank finds the same batch count)."""
    shards, url = source.shards, source.url
    workers = usable_workers(len(shards), world, cfg.workers)
    slots = assign_shards(len(shards), cfg.seed, epoch, world, workers)
    of_video: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        of_video.setdefault(item.video_id, []).append(index)
    reads_of = [[[(s, i) for s in slot for v in shards[s]["video_ids"] for i in of_video.get(v, ())]
                 for slot in per_rank] for per_rank in slots]
    if any(not reads for per_rank in reads_of for reads in per_rank):
        raise DataError(f"{url}: a loader worker's shards hold no training sample of this split; "
                        f"use fewer data.workers ({cfg.workers}) or reshard with more, smaller shards")
    batches = max(math.ceil(len(reads) / batch_size) for per_rank in reads_of for reads in per_rank)
    return StreamPlan(url, shards, reads_of[rank], batches, batch_size, cfg.seed)


class StreamDataset(torch.utils.data.IterableDataset):
    """One rank's training samples for one epoch, from batch ``start_batch`` on.

    DataLoader worker ``i`` plays plan worker ``(i + start_batch) % workers``: the DataLoader
    takes batches from its workers in turn, so global batch ``k`` is plan worker ``k % workers``'s
    batch ``k // workers``, before and after a resume."""

    def __init__(self, plan: StreamPlan, clips: ClipDataset, rank: int, epoch: int, start_batch: int,
                 buffer: int, retry: Retry) -> None:
        if not isinstance(clips.reader, StreamSource):
            raise TypeError("a StreamDataset reads through a StreamSource")
        self.plan, self.clips, self.source, self.policy = plan, clips, clips.reader, clips.policy
        self.rank, self.epoch, self.start_batch = rank, epoch, start_batch
        self.buffer, self.retry = buffer, retry
        self.workers = len(plan.reads)
        if not 0 <= start_batch <= self.total_batches:
            raise ValueError(f"start_batch {start_batch} outside 0..{self.total_batches}")

    @property
    def total_batches(self) -> int:
        """Micro-batches of the epoch from batch 0 (every worker emits ``plan.batches``)."""
        return self.workers * self.plan.batches

    def __len__(self) -> int:
        return (self.total_batches - self.start_batch) * self.plan.batch_size

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = torch.utils.data.get_worker_info()
        if info is None and self.workers > 1:
            raise ConfigError("data.workers: 0 cannot read a streamed root planned for several loader workers")
        worker = ((info.id if info else 0) + self.start_batch) % self.workers
        done = max(0, -(-(self.start_batch - worker) // self.workers))  # its batches before start_batch
        reads, order = self.order(worker)
        yield from self._emit(reads, order[done * self.plan.batch_size:], len(self.plan.reads[worker]))

    def order(self, worker: int) -> tuple[list[tuple[int, int]], list[int]]:
        """The worker's reading sequence (its shards' items, started over until its batches are
        full) and the read positions in the order its shuffle buffer emits them."""
        plan = self.plan
        base = plan.reads[worker]
        reads = [base[i % len(base)] for i in range(plan.batches * plan.batch_size)]
        seed = int(np.random.default_rng([plan.seed, self.epoch, self.rank, worker, _WORKER_STREAM]).integers(2**62))
        return reads, buffer_order(len(reads), self.buffer, seed)

    def _emit(self, reads: list[tuple[int, int]], wanted: list[int], period: int) -> Iterator[dict[str, Any]]:
        needed = set(wanted)
        held: dict[int, StreamedVideo | None] = {}  # read position -> its video (None: unreadable)
        emitted, pending, last = 0, 0, None
        for positions in _occurrences(reads, period):  # one shard at a time, in reading order
            positions = [p for p in positions if p in needed]
            if positions:
                videos = self._fetch(reads[positions[0]][0])
                for p in positions:
                    held[p] = videos.get(self.clips.items[reads[p][1]].video_id) if videos is not None else None
            while emitted < len(wanted) and wanted[emitted] in held:
                p = wanted[emitted]
                emitted += 1
                sample = self._sample(reads[p][1], held.pop(p))
                if sample is None:
                    pending += 1
                    continue
                last = sample
                for _ in range(pending + 1):  # an unreadable sample is replaced by the next readable one
                    yield sample
                pending = 0
        if pending and last is None:
            raise DataError(f"{self.plan.url}: no readable sample in this loader worker's shards")
        for _ in range(pending):
            yield last

    def _fetch(self, shard: int) -> dict[str, StreamedVideo] | None:
        """The videos of a shard by id, or None when it is damaged (named and counted)."""
        record = self.plan.shards[shard]
        url = join(self.plan.url, record["file"])
        try:
            return {v.video_id: v for v in shard_videos(read_shard(url, record, self.retry), url)}
        except SourceUnavailable:
            raise
        except DataError as exc:
            if self.clips.on_corrupt == "raise":
                raise
            self.clips.corrupt += record["videos"]
            log.error("skipping damaged shard %s (the samples of its %d videos are replaced): %s",
                      url, record["videos"], exc)
            return None

    def _sample(self, index: int, video: StreamedVideo | None) -> dict[str, Any] | None:
        if video is None:
            return None
        self.source.video = video
        try:
            return self.clips.load(index)
        except CorruptSample as exc:
            if self.clips.on_corrupt == "raise":
                raise
            self.clips.corrupt += 1
            log.warning("skipping corrupt sample %s (%d skipped in this process): %s",
                        video.video_id, self.clips.corrupt, exc)
            return None


def _occurrences(reads: list[tuple[int, int]], period: int) -> Iterator[list[int]]:
    """Runs of consecutive read positions in one shard; the sequence starts over every ``period``
    positions, and a shard read again starts a new run."""
    run: list[int] = []
    for p, (shard, _) in enumerate(reads):
        if run and (reads[run[-1]][0] != shard or run[-1] // period != p // period):
            yield run
            run = []
        run.append(p)
    if run:
        yield run
