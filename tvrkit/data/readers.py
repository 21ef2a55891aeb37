"""Which frame reader a loader uses: a shard format's own reader (``tvrkit.shards.formats``,
chosen by ``data.format``), or ``raw``, compressed videos decoded on the fly (no sharding)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tvrkit.errors import DataError
from tvrkit.shards.formats.base import FORMATS, FrameReader, Pick, VideoInfo, get_format


class RawReader(FrameReader):
    """``ROOT/compressed/{video_id}.mp4`` decoded on the fly (no sharding needed) by the first
    back-end of :func:`tvrkit.media.decode.sampled_order` that reads it."""

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


RAW = "raw"


def open_reader(fmt: str, root: str | os.PathLike[str], split: str) -> FrameReader:
    """The reader of ``fmt`` (a shard format, or ``raw``) for ``split``."""
    if fmt == RAW:
        return RawReader(root, split)
    if fmt not in FORMATS:
        raise DataError(f"unknown data format {fmt!r}; known: {', '.join([*FORMATS, RAW])}")
    return get_format(fmt).reader(root, split)
