"""WebDataset shards: ``{split}-{000000}.tar``, one sample per video (``{key}.NNNN.jpg`` frames
in order + ``{key}.json`` meta), made by concatenating staged fragments in split order.

Any WebDataset pipeline can stream these tars (:mod:`tvrkit.shards.stream` does, for URL
roots); on a local disk :class:`WdsReader` indexes their members once
(``tario.iter_members``) and reads frames by offset, which is random access, exact and
resumable.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shutil
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tvrkit.errors import DataError
from tvrkit.shards.formats.base import (
    CorruptSample,
    Entry,
    FrameReader,
    Pick,
    PlannedShard,
    ShardFormat,
    VideoInfo,
    split_manifest,
)
from tvrkit.shards.formats.tario import END_OF_ARCHIVE, iter_members, read_member
from tvrkit.shards.frames import decode_frames
from tvrkit.shards.plan import plan_groups
from tvrkit.shards.staging import META_SUFFIX, Staged


def shard_name(split: str, index: int) -> str:
    """File name of shard ``index`` of ``split``."""
    return f"{split}-{index:06d}.tar"


def parse_member_name(name: str) -> tuple[str, int | None]:
    """``(video_id, frame index or None for the meta)`` of a member written by tvrkit."""
    key, dot, rest = name.partition(".")
    video_id = urllib.parse.unquote(key)
    if dot and rest == META_SUFFIX[1:]:
        return video_id, None
    number, _, ext = rest.partition(".")
    if not (dot and ext == "jpg" and number.isdigit()):
        raise DataError(f"unexpected member {name!r} (expected KEY.NNNN.jpg or KEY.json)")
    return video_id, int(number)


@dataclasses.dataclass(frozen=True)
class _TarIndex:
    """Where every video's meta and frames lie in a split's tar shards (compact numpy rows)."""

    files: tuple[str, ...]
    row: dict[str, int]  # video_id -> row
    shard: np.ndarray  # [videos] shard number
    meta: np.ndarray  # [videos, 2] offset, size of the JSON
    first: np.ndarray  # [videos] first frame row
    count: np.ndarray  # [videos] frames
    frames: np.ndarray  # [frames, 2] offset, size of each JPEG


@functools.lru_cache(maxsize=16)
def _tar_index(directory: str, manifest_stamp: tuple[int, int]) -> _TarIndex:
    """Scan the tar headers once per process and manifest version (a few µs per member)."""
    from tvrkit.shards.manifest import read_manifest

    files = tuple(s["file"] for s in read_manifest(directory)["shards"])
    row: dict[str, int] = {}
    shard, meta, first, count, frames = [], [], [], [], []
    for number, name in enumerate(files):
        for member in iter_members(Path(directory) / name):
            video_id, frame = parse_member_name(member.name)
            if video_id not in row:
                row[video_id] = len(shard)
                shard.append(number), meta.append((0, 0)), first.append(len(frames)), count.append(0)
            r = row[video_id]
            if frame is None:
                meta[r] = (member.offset, member.size)
            elif frame != count[r]:
                raise DataError(f"{name}: frames of {video_id} are not stored in order (run `tvrkit verify`)")
            else:
                frames.append((member.offset, member.size))
                count[r] += 1
    return _TarIndex(files, row, np.asarray(shard, np.int32), np.asarray(meta, np.int64).reshape(-1, 2),
                     np.asarray(first, np.int64), np.asarray(count, np.int64),
                     np.asarray(frames, np.int64).reshape(-1, 2))


class WdsReader(FrameReader):
    """``ROOT/shards/wds/{split}``: standard WebDataset tars, read by member offset (``os.pread``)
    through an index of their headers, so access is random, exact and resumable."""

    def __init__(self, root: str | os.PathLike[str], split: str) -> None:
        super().__init__(root, split)
        self.dir, manifest = split_manifest(self.root, "wds", split)
        self.manifest_file, self.stored_crop = self.dir / "manifest.json", manifest["params"]["crop_size"]
        self._shards = manifest["shards"]
        self._ids = [v for shard in self._shards for v in shard["video_ids"]]
        self._index: _TarIndex | None = None

    def prepare(self) -> None:
        """Index the tars' headers; the mirror of a URL root first fetches its missing shards."""
        if self._index is not None:
            return
        from tvrkit.shards.remote import fetch_split

        fetch_split(self.root, self.dir, self._shards)
        stat = self.manifest_file.stat()
        self._index = _tar_index(str(self.dir), (stat.st_mtime_ns, stat.st_size))

    def video_ids(self) -> list[str]:
        return list(self._ids)

    def _open(self) -> None:
        self._h_fds: dict[int, int] = {}

    def _fd(self, number: int) -> int:
        if number not in self._h_fds:
            self._h_fds[number] = os.open(self.dir / self._index.files[number], os.O_RDONLY)
        return self._h_fds[number]

    def _read(self, video_id: str, pick: Pick) -> tuple[list[int], Any]:
        self.prepare()
        idx = self._index
        assert idx is not None
        r = idx.row.get(video_id)
        if r is None:
            raise CorruptSample(f"{self.split}/{video_id}: not in the tar shards of {self.dir}")
        fd = self._fd(int(idx.shard[r]))
        meta = json.loads(os.pread(fd, int(idx.meta[r, 1]), int(idx.meta[r, 0])))
        indices = list(pick(VideoInfo(int(idx.count[r]), meta["fps"])))
        jpegs = []
        for i in indices:
            offset, size = idx.frames[idx.first[r] + i]
            jpegs.append(os.pread(fd, int(size), int(offset)))
        return indices, decode_frames(jpegs, self.verify_frames)


class WdsFormat(ShardFormat):
    name = "wds"

    def plan(self, split: str, videos: list[Staged], shard_size: int, shard_multiple: int) -> list[PlannedShard]:
        groups = plan_groups([v.bytes for v in videos], shard_size, shard_multiple)
        return [PlannedShard(shard_name(split, k), tuple(videos[i] for i in g)) for k, g in enumerate(groups)]

    def write(self, shard: PlannedShard, dest: Path) -> None:
        with open(dest, "wb") as out:
            for video in shard.videos:
                with open(video.fragment, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
            out.write(END_OF_ARCHIVE)  # two zero blocks, no padding to a record: fixed bytes

    def entries(self, path: Path, with_frames: bool) -> Iterator[Entry]:
        with open(path, "rb") as fh:
            for member in iter_members(path):
                video_id, frame = parse_member_name(member.name)
                wanted = with_frames or frame is None
                yield Entry(video_id, frame, read_member(fh, member) if wanted else None)

    def reader(self, root: str | os.PathLike[str], split: str) -> FrameReader:
        return WdsReader(root, split)
