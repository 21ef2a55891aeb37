"""The one interface every shard format implements, and the registry that picks one by name.

A format plans how staged videos map to shard files, writes one shard from its staged
fragments (to a temporary path the stage renames into place), and lists a shard's
entries back for ``verify``. Adding a format = one module + one line in ``FORMATS``.
"""

from __future__ import annotations

import abc
import dataclasses
import importlib
import os
from collections.abc import Iterator
from pathlib import Path

from tvrkit.errors import ConfigError
from tvrkit.shards.encode import Staged


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


class ShardFormat(abc.ABC):
    """Writer and lister of one on-disk format."""

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
