"""LMDB shards: one environment per split, ``{video_id}/{frame:04d}`` -> JPEG and
``{video_id}/meta`` -> JSON, filled from staged fragments in split order, and read back by key
(:class:`LmdbReader`, one read-only environment per split and process).

The map size is derived from the payload and doubled on ``MapFullError``, so users never
tune it; the environment is then copied compacted into a single ``data.mdb``, whose bytes
depend only on the content and the insertion order (both fixed), not on the run.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
from tvrkit.shards.formats.tario import iter_members, read_member
from tvrkit.shards.formats.wds import parse_member_name
from tvrkit.shards.frames import decode_frames
from tvrkit.shards.staging import Staged

DATA_FILE = "data.mdb"
_MIB = 1 << 20
_VIDEOS_PER_TXN = 64  # bounds dirty pages per transaction; commits are cheap with sync off


def frame_key(video_id: str, index: int) -> bytes:
    """Key of frame ``index`` of ``video_id``."""
    return f"{video_id}/{index:04d}".encode()


def meta_key(video_id: str) -> bytes:
    """Key of the JSON meta of ``video_id``."""
    return f"{video_id}/meta".encode()


def parse_key(key: bytes) -> tuple[str, int | None]:
    """``(video_id, frame index or None for the meta)`` of a key (video ids may hold '/')."""
    video_id, _, tail = key.decode().rpartition("/")
    if tail == "meta":
        return video_id, None
    if not (video_id and tail.isdigit()):
        raise DataError(f"unexpected LMDB key {key!r}")
    return video_id, int(tail)


def open_readonly(split_dir: str | Path, map_size: int | None = None) -> object:
    """Open a split's environment for reading: no lock file, no readahead (random frame reads)."""
    import lmdb

    kwargs = {"map_size": map_size} if map_size else {}
    return lmdb.open(str(split_dir), readonly=True, lock=False, readahead=False, meminit=False,
                     subdir=True, max_readers=2048, **kwargs)


def _video_items(video: Staged) -> list[tuple[bytes, bytes]]:
    items = []
    with open(video.fragment, "rb") as fh:
        for member in iter_members(video.fragment):
            vid, frame = parse_member_name(member.name)
            data = read_member(fh, member)
            items.append((meta_key(vid) if frame is None else frame_key(vid, frame), data))
    return items


def _put_all(env: object, batch: list[Staged]) -> None:
    with env.begin(write=True) as txn:  # type: ignore[attr-defined]
        for video in batch:
            for key, data in _video_items(video):
                txn.put(key, data)


_ENVS: dict[str, tuple[int, Any]] = {}


def _process_env(directory: str) -> Any:
    """One read-only environment per split and process. py-lmdb refuses a second open of an
    environment in one process (e.g. two loaders with ``workers=0``), and a forked worker
    inherits the parent's registry of open environments: it closes the inherited handle (its
    own copy of the mapping; the parent's is untouched) and opens its own."""
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
        self.dir, manifest = split_manifest(self.root, "lmdb", split)
        self.manifest_file, self.stored_crop = self.dir / "manifest.json", manifest["params"]["crop_size"]
        self._ids = [v for shard in manifest["shards"] for v in shard["video_ids"]]

    def video_ids(self) -> list[str]:
        return list(self._ids)

    def _open(self) -> None:
        self._h_env = _process_env(str(self.dir))

    def _read(self, video_id: str, pick: Pick) -> tuple[list[int], Any]:
        with self._h_env.begin(buffers=False) as txn:
            raw = txn.get(meta_key(video_id))
            if raw is None:
                raise CorruptSample(f"{self.split}/{video_id}: no meta in {self.dir}")
            meta = json.loads(raw)
            indices = list(pick(VideoInfo(meta["frames"], meta["fps"])))
            jpegs = [txn.get(frame_key(video_id, i)) for i in indices]
        if any(j is None for j in jpegs):
            raise CorruptSample(f"{self.split}/{video_id}: frames missing in {self.dir}")
        return indices, decode_frames(jpegs, self.verify_frames)


class LmdbFormat(ShardFormat):
    name = "lmdb"
    # LMDB follows page pointers through the memory map: a damaged file can crash the reader,
    # so verify only reads an environment whose hash matched.
    scan_damaged = False

    def plan(self, split: str, videos: list[Staged], shard_size: int, shard_multiple: int) -> list[PlannedShard]:
        return [PlannedShard(DATA_FILE, tuple(videos))] if videos else []

    def write(self, shard: PlannedShard, dest: Path) -> None:
        import lmdb

        payload = sum(v.bytes for v in shard.videos)
        # Room for B-tree pages and keys on top of the JPEG bytes; a deterministic function of
        # the input (the map size is stored in the file), grown below if it is still too small.
        map_size = (payload * 3 // 2 // _MIB + 64) * _MIB
        work = Path(tempfile.mkdtemp(prefix=".lmdb-", dir=dest.parent))
        try:
            env = lmdb.open(str(work / "env"), map_size=map_size, lock=False, sync=False, metasync=False,
                            subdir=True, meminit=True)
            videos = list(shard.videos)
            for start in range(0, len(videos), _VIDEOS_PER_TXN):
                batch = videos[start:start + _VIDEOS_PER_TXN]
                while True:
                    try:
                        _put_all(env, batch)
                        break
                    except lmdb.MapFullError:  # the aborted transaction is simply redone
                        map_size *= 2
                        env.set_mapsize(map_size)
            (work / "copy").mkdir()
            env.copy(str(work / "copy"), compact=True)
            env.close()
            shutil.move(str(work / "copy" / DATA_FILE), dest)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def entries(self, path: Path, with_frames: bool) -> Iterator[Entry]:
        import lmdb

        try:
            env = open_readonly(path.parent)
        except lmdb.Error as exc:
            raise DataError(f"{path}: cannot open LMDB: {exc}") from exc
        try:
            with env.begin(buffers=True) as txn:  # type: ignore[attr-defined]
                for key, value in txn.cursor():
                    video_id, frame = parse_key(bytes(key))
                    wanted = with_frames or frame is None
                    yield Entry(video_id, frame, bytes(value) if wanted else None)
        except lmdb.Error as exc:
            raise DataError(f"{path}: damaged LMDB: {exc}") from exc
        finally:
            env.close()  # type: ignore[attr-defined]

    def reader(self, root: str | os.PathLike[str], split: str) -> FrameReader:
        return LmdbReader(root, split)
