"""Streaming WebDataset shards: which shards each rank and loader worker reads in an epoch,
the seeded bounded shuffle of what it reads, and the videos of one shard's bytes.

Everything here is a pure function of the manifest and (seed, epoch, ranks, workers), so a
loader can compute the whole epoch's order before reading a byte, skip to any position
when a run resumes, and give the same order as an uninterrupted run. The tar parsing and
the shuffle buffer are the ``webdataset`` library's.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Iterator
from typing import Any

import numpy as np

from tvrkit.errors import ConfigError, DataError
from tvrkit.shards.formats.wds import parse_member_name

_SHARD_STREAM = 0x5348  # a generator stream of its own for the shard order


def assign_shards(num_shards: int, seed: int, epoch: int, world: int, workers: int) -> list[list[list[int]]]:
    """``[rank][worker]`` -> shard numbers, in reading order, for ``epoch``.

    The shards are permuted once per (seed, epoch), identically on every rank, and dealt out
    round-robin over the ``world * workers`` slots (slot ``i`` is rank ``i % world``, worker
    ``i // world``), so ranks differ by at most one shard. Every shard is read by exactly one
    slot. Callers choose ``workers`` so that every slot gets a shard (:func:`usable_workers`)."""
    if num_shards < world:
        raise ConfigError(f"data.root: {num_shards} shard(s) cannot feed {world} ranks; reshard with "
                          f"`tvrkit shard --shard-multiple {world}` (or a multiple of ranks x data.workers)")
    order = np.random.default_rng([seed, epoch, _SHARD_STREAM]).permutation(num_shards)
    slots: list[list[list[int]]] = [[[] for _ in range(workers)] for _ in range(world)]
    for i, shard in enumerate(order.tolist()):
        slot = i % (world * workers)
        slots[slot % world][slot // world].append(shard)
    return slots


def usable_workers(num_shards: int, world: int, workers: int) -> int:
    """Loader workers per rank that each get at least one shard (at least 1)."""
    return max(1, min(workers, num_shards // world))


def buffer_order(count: int, buffer: int, seed: int) -> list[int]:
    """Positions ``0..count-1`` in the order a seeded ``webdataset.shuffle`` buffer of ``buffer``
    items emits them (``buffer <= 1``: reading order). Position ``p`` is never emitted before
    it is read, and never more than ``buffer`` positions after."""
    if buffer <= 1:
        return list(range(count))
    import webdataset as wds

    return list(wds.shuffle(buffer, buffer, seed=seed)(iter(range(count))))


@dataclasses.dataclass(frozen=True)
class StreamedVideo:
    """One video of a streamed shard: its meta and its JPEG frames in order."""

    video_id: str
    meta: dict[str, Any]
    jpegs: tuple[bytes, ...]


def shard_videos(data: bytes, name: str) -> Iterator[StreamedVideo]:
    """The videos of a WebDataset shard held in memory, in stored order (``webdataset``'s tar
    iterator); :class:`DataError` naming ``name`` when its members are not tvrkit's layout."""
    from webdataset.tariterators import tar_file_iterator

    current: str | None = None
    frames: list[bytes] = []
    meta: dict[str, Any] | None = None
    try:
        for member in tar_file_iterator(io.BytesIO(data)):
            video_id, frame = parse_member_name(member["fname"])
            if video_id != current:
                if current is not None:
                    yield _video(name, current, meta, frames)
                current, frames, meta = video_id, [], None
            if frame is None:
                meta = json.loads(member["data"])
            elif frame != len(frames):
                raise DataError(f"frame {frame} of {video_id} out of order")
            else:
                frames.append(member["data"])
    except DataError as exc:
        raise DataError(f"{name}: {exc}") from exc
    except Exception as exc:  # tarfile and json raise several types for damaged bytes
        raise DataError(f"{name}: damaged tar: {type(exc).__name__}: {exc}") from exc
    if current is not None:
        yield _video(name, current, meta, frames)


def _video(name: str, video_id: str, meta: dict[str, Any] | None, frames: list[bytes]) -> StreamedVideo:
    if meta is None or meta.get("frames") != len(frames):
        raise DataError(f"{name}: {video_id} has {len(frames)} frames and meta {meta}")
    return StreamedVideo(video_id, meta, tuple(frames))
