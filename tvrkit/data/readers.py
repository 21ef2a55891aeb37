"""Frame readers: one interface over LMDB shards, WebDataset shards and raw compressed videos.

A reader knows which videos a split has and returns the frames a ``pick`` function chooses
once it knows the video's length, as ``uint8 [n, 3, H, W]``. Readers are built in the main
process and copied into DataLoader workers: file handles and LMDB environments are opened
lazily in the process that reads (never pickled, never shared across a fork).
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tvrkit.errors import ConfigError, DataError

log = logging.getLogger(__name__)


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


def _decode_all(jpegs: Sequence[bytes]) -> Any:
    import torch

    from tvrkit.data.transforms import decode_jpeg

    return torch.stack([decode_jpeg(b) for b in jpegs])


def _manifest(root: Path, fmt: str, split: str) -> tuple[Path, dict[str, Any]]:
    """A split's shard directory and manifest."""
    from tvrkit.shards.formats.base import split_dir
    from tvrkit.shards.manifest import read_manifest

    directory = split_dir(root, fmt, split)
    return directory, read_manifest(directory)


_ENVS: dict[str, tuple[int, Any]] = {}


def _process_env(directory: str) -> Any:
    """One read-only environment per split and process. py-lmdb refuses a second open of an
    environment in one process (e.g. two loaders with ``workers=0``), and a forked worker
    inherits the parent's registry of open environments: it closes the inherited handle (its
    own copy of the mapping; the parent's is untouched) and opens its own."""
    from tvrkit.shards.formats.lmdb import open_readonly

    pid, env = _ENVS.get(directory, (-1, None))
    if pid != os.getpid():
        if env is not None:
            env.close()
        env = open_readonly(directory)
        _ENVS[directory] = (os.getpid(), env)
    return env


class LmdbReader(FrameReader):
    """``ROOT/shards/lmdb/{split}``: meta and frames by key, environment opened read-only per process."""

    def __init__(self, root: str | os.PathLike[str], split: str) -> None:
        super().__init__(root, split)
        self.dir, manifest = _manifest(self.root, "lmdb", split)
        self.manifest_file, self.stored_crop = self.dir / "manifest.json", manifest["params"]["crop_size"]
        self._ids = [v for shard in manifest["shards"] for v in shard["video_ids"]]

    def video_ids(self) -> list[str]:
        return list(self._ids)

    def _open(self) -> None:
        self._h_env = _process_env(str(self.dir))

    def _read(self, video_id: str, pick: Pick) -> tuple[list[int], Any]:
        from tvrkit.shards.formats.lmdb import frame_key, meta_key

        with self._h_env.begin(buffers=False) as txn:
            raw = txn.get(meta_key(video_id))
            if raw is None:
                raise CorruptSample(f"{self.split}/{video_id}: no meta in {self.dir}")
            meta = json.loads(raw)
            indices = list(pick(VideoInfo(meta["frames"], meta["fps"])))
            jpegs = [txn.get(frame_key(video_id, i)) for i in indices]
        if any(j is None for j in jpegs):
            raise CorruptSample(f"{self.split}/{video_id}: frames missing in {self.dir}")
        return indices, _decode_all(jpegs)


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
    from tvrkit.shards.formats.tario import iter_members
    from tvrkit.shards.formats.wds import parse_member_name

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
        self.dir, manifest = _manifest(self.root, "wds", split)
        self.manifest_file, self.stored_crop = self.dir / "manifest.json", manifest["params"]["crop_size"]
        stat = (self.dir / "manifest.json").stat()
        self._index = _tar_index(str(self.dir), (stat.st_mtime_ns, stat.st_size))
        self._ids = [v for shard in manifest["shards"] for v in shard["video_ids"]]

    def video_ids(self) -> list[str]:
        return list(self._ids)

    def _open(self) -> None:
        self._h_fds = {}

    def _fd(self, number: int) -> int:
        if number not in self._h_fds:
            self._h_fds[number] = os.open(self.dir / self._index.files[number], os.O_RDONLY)
        return self._h_fds[number]

    def _read(self, video_id: str, pick: Pick) -> tuple[list[int], Any]:
        idx = self._index
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
        return indices, _decode_all(jpegs)


class RawReader(FrameReader):
    """``ROOT/compressed/{video_id}.mp4`` decoded on the fly (no sharding needed) by the first
    back-end of :data:`tvrkit.media.decode.SAMPLED_ORDER` that reads it."""

    def __init__(self, root: str | os.PathLike[str], split: str) -> None:
        from tvrkit.catalog import read_catalog

        super().__init__(root, split)
        catalog = read_catalog(self.root)
        rows = catalog.video_rows()
        self._ids = [v for v in catalog.split_video_ids(split)
                     if rows[v]["status"] == "ok" and self._path(v).is_file()]

    def _path(self, video_id: str) -> Path:
        return self.root / "compressed" / f"{video_id}.mp4"

    def video_ids(self) -> list[str]:
        return list(self._ids)

    def _open(self) -> None:
        """Nothing to open: the decoder opens each file per read."""

    def _read(self, video_id: str, pick: Pick) -> tuple[list[int], Any]:
        import torch

        from tvrkit.media.decode import read_sampled

        indices, frames = read_sampled(self._path(video_id), lambda n, fps: pick(VideoInfo(n, fps)))
        return indices, torch.from_numpy(frames).permute(0, 3, 1, 2)


READERS: dict[str, type[FrameReader]] = {"lmdb": LmdbReader, "wds": WdsReader, "raw": RawReader}


def open_reader(fmt: str, root: str | os.PathLike[str], split: str) -> FrameReader:
    """The reader of ``fmt`` for ``split`` (see ``READERS``)."""
    try:
        cls = READERS[fmt]
    except KeyError:
        raise DataError(f"unknown data format {fmt!r}; known: {', '.join(READERS)}") from None
    return cls(root, split)
