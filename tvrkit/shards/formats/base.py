"""The one interface every shard format implements, and the registry that picks one by name.

A format plans how staged videos map to shard files, writes one shard from its staged
fragments (to a temporary path the stage renames into place), lists a shard's entries back
for ``verify``, and opens a :class:`FrameReader` over a split for the loaders. Adding a
format = one module + one line in ``FORMATS``.

A reader knows which videos a split has and returns the frames a ``pick`` function chooses
once it knows the video's length, as ``uint8 [n, 3, H, W]``. Readers are built in the main
process and copied into DataLoader workers: file handles and environments are opened lazily
in the process that reads (never pickled, never shared across a fork).
"""

from __future__ import annotations

import abc
import dataclasses
import importlib
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from tvrkit.errors import ConfigError, DataError
from tvrkit.shards.staging import Staged


@dataclasses.dataclass(frozen=True)
class PlannedShard:
    """One shard file to write (name relative to the split directory) and its videos, in order."""

    file: str
    videos: tuple[Staged, ...]


@dataclasses.dataclass(frozen=True)
class Entry:
    """One stored item of a shard: a video's ``meta`` JSON or frame number ``frame``."""

    video_id: str
    frame: int | None  # None for the meta entry
    data: bytes | None  # None for a frame listed without its bytes


class CorruptSample(DataError):
    """A stored video or frame that cannot be read (the loader skips or raises per ``on_corrupt``)."""


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What frame sampling needs to know about a video."""

    num_frames: int
    fps: float


Pick = Callable[[VideoInfo], Sequence[int]]


class FrameReader(abc.ABC):
    """Frames of one split in one storage format."""

    manifest_file: Path | None = None  # the shards' manifest.json (None for raw video)
    stored_crop: int | None = None  # side of the square the frames were stored as (shard --crop center)
    verify_frames: bool = False  # data.verify_frames: frames the JPEG decoder reports as corrupt are unreadable

    def __init__(self, root: str | os.PathLike[str], split: str) -> None:
        self.root = Path(root)
        self.split = split
        self._pid = -1

    def check_frames(self, image_size: int, random_crop: bool) -> None:
        """:class:`ConfigError` when the stored frames cannot give what a loader asks for: frames
        stored center-cropped (``tvrkit shard --crop center``) have one size and no surroundings."""
        if self.stored_crop is None:
            return
        where = f"{self.manifest_file} (params: crop center, crop_size {self.stored_crop})"
        if image_size != self.stored_crop:
            raise ConfigError(f"data.image_size: the loader needs {image_size} px frames (data.image_size, or the "
                              f"model's input size when null), but {where} holds {self.stored_crop} px center crops; "
                              f"set data.image_size={self.stored_crop} for a model of that size, or reshard with "
                              f"--crop-size {image_size} or --crop none")
        if random_crop:
            raise ConfigError(f"data.augment.crop_scale: a random resized crop needs the full frames, but {where} "
                              "holds only their central square; set data.augment.crop_scale=null or reshard with "
                              "--crop none")

    @abc.abstractmethod
    def video_ids(self) -> list[str]:
        """The split's readable videos, in stored order (failed ones are absent)."""

    def prepare(self) -> None:
        """Build what every read needs (an index, a local copy), once, in the process that makes
        the loader, so forked workers inherit it; :meth:`video_ids` never needs it."""
        return None

    def read(self, video_id: str, pick: Pick) -> tuple[list[int], Any]:
        """``(indices, uint8 [n, 3, H, W])`` of the frames ``pick`` chooses; raises
        :class:`CorruptSample` when the stored data cannot be decoded."""
        if self._pid != os.getpid():  # first use in this process (e.g. a fresh DataLoader worker)
            self._open()
            self._pid = os.getpid()
        try:
            return self._read(video_id, pick)
        except CorruptSample:
            raise
        except Exception as exc:  # decoders and stores raise many types for damaged data
            raise CorruptSample(f"{self.split}/{video_id}: {type(exc).__name__}: {exc}") from exc

    @abc.abstractmethod
    def _open(self) -> None:
        """Open this process's handles (files, environments)."""

    @abc.abstractmethod
    def _read(self, video_id: str, pick: Pick) -> tuple[list[int], Any]: ...

    def __getstate__(self) -> dict[str, Any]:
        # Handles belong to the process that opened them; a copy reopens its own.
        state = {k: v for k, v in self.__dict__.items() if not k.startswith("_h_")}
        state["_pid"] = -1
        return state


class ShardFormat(abc.ABC):
    """Writer, lister and reader of one on-disk format."""

    name: str
    scan_damaged = True  # whether verify may list a shard whose hash does not match

    @abc.abstractmethod
    def plan(self, split: str, videos: list[Staged], shard_size: int, shard_multiple: int) -> list[PlannedShard]:
        """Deterministic shard files for ``videos`` (staged, in split order)."""

    @abc.abstractmethod
    def write(self, shard: PlannedShard, dest: Path) -> None:
        """Write ``shard`` to ``dest`` (a temporary path; the caller renames it)."""

    @abc.abstractmethod
    def entries(self, path: Path, with_frames: bool) -> Iterator[Entry]:
        """Every entry stored in the shard at ``path`` (metas always with their bytes, frames
        only when ``with_frames``); raises :class:`DataError` if unreadable."""

    @abc.abstractmethod
    def reader(self, root: str | os.PathLike[str], split: str) -> FrameReader:
        """Random-access reader of ``ROOT/shards/{name}/{split}`` (its manifest must exist)."""


FORMATS: dict[str, str] = {
    "wds": "tvrkit.shards.formats.wds:WdsFormat",
    "lmdb": "tvrkit.shards.formats.lmdb:LmdbFormat",
}


def get_format(name: str) -> ShardFormat:
    """The registered format ``name`` (its module is imported on demand)."""
    try:
        module, attr = FORMATS[name].split(":")
    except KeyError:
        raise ConfigError(f"unknown shard format {name!r}; known: {', '.join(FORMATS)}") from None
    return getattr(importlib.import_module(module), attr)()


def split_dir(root: str | os.PathLike[str], fmt: str, split: str) -> Path:
    """``ROOT/shards/{format}/{split}``."""
    return Path(root) / "shards" / fmt / split


def split_manifest(root: str | os.PathLike[str], fmt: str, split: str) -> tuple[Path, dict[str, Any]]:
    """A split's shard directory and its (validated) manifest."""
    from tvrkit.shards.manifest import read_manifest

    directory = split_dir(root, fmt, split)
    return directory, read_manifest(directory)
