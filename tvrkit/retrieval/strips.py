"""Frame strips for the report: a few evenly spaced frames of a video side by side, as JPEG.

Frames come from a registry of sources (the compressed mp4s, the frame shards), tried in
order, so a report still shows a video whose shard is missing; a video no source can read
gets no strip and the report says so instead of failing.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# A source is built for (dataset root, split, data format) and maps (video id, frame count)
# to uint8 frames [n, H, W, 3].
FrameSource = Callable[[str, int], np.ndarray]


def evenly_spaced(total: int, count: int) -> list[int]:
    """``count`` frame indices spread over ``total`` frames (centres of equal segments)."""
    if total <= 0:
        return []
    count = min(count, total)
    return [int((i + 0.5) * total / count) for i in range(count)]


def strip_jpeg(frames: Sequence[np.ndarray] | np.ndarray, height: int = 64, quality: int = 80) -> bytes:
    """Resize each frame to ``height`` (aspect kept), paste them left to right, JPEG-encode."""
    from PIL import Image

    images = [Image.fromarray(np.asarray(f, dtype=np.uint8)) for f in frames]
    if not images:
        raise ValueError("a strip needs at least one frame")
    images = [im.resize((max(1, round(im.width * height / im.height)), height)) for im in images]
    gap = 2
    canvas = Image.new("RGB", (sum(im.width for im in images) + gap * (len(images) - 1), height), "white")
    x = 0
    for im in images:
        canvas.paste(im, (x, 0))
        x += im.width + gap
    buf = io.BytesIO()
    canvas.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _compressed(root: Path, split: str, fmt: str) -> FrameSource:
    from tvrkit.media.decode import read_sampled

    def read(video_id: str, count: int) -> np.ndarray:
        path = root / "compressed" / f"{video_id}.mp4"
        if not path.exists():
            raise FileNotFoundError(path)
        return read_sampled(path, lambda total, _fps: evenly_spaced(total, count))[1]

    return read


def _shards(root: Path, split: str, fmt: str) -> FrameSource:
    from tvrkit.data.readers import open_reader

    reader = open_reader(fmt, root, split)

    def read(video_id: str, count: int) -> np.ndarray:
        _, frames = reader.read(video_id, lambda info: evenly_spaced(info.num_frames, count))
        return np.asarray(frames).transpose(0, 2, 3, 1)  # readers give [n, 3, H, W]

    return read


STRIP_SOURCES: dict[str, Callable[[Path, str, str], FrameSource]] = {
    "shards": _shards,  # the frames the model saw: the data config's format (wds, lmdb or raw)
    "compressed": _compressed,
}


def make_strips(
    root: str | os.PathLike[str],
    video_ids: Iterable[str],
    sources: Sequence[str] = ("compressed",),
    count: int = 4,
    height: int = 64,
    split: str = "",
    fmt: str = "wds",
) -> dict[str, bytes]:
    """JPEG strips of ``video_ids`` from the first source that can read each; unreadable
    videos are logged and left out (the report marks them 'no frames available')."""
    unknown = [s for s in sources if s not in STRIP_SOURCES]
    if unknown:
        raise ValueError(f"unknown frame source(s) {unknown}; known: {', '.join(STRIP_SOURCES)}")
    readers: dict[str, FrameSource] = {}
    for name in sources:
        try:
            readers[name] = STRIP_SOURCES[name](Path(root), split, fmt)
        except Exception as exc:  # e.g. no shards for this split: the next source may do
            log.warning("frame source %s unavailable for split %s: %s", name, split, exc)
    strips: dict[str, bytes] = {}
    for video_id in dict.fromkeys(video_ids):
        for name, read in readers.items():
            try:
                frames = read(video_id, count)
                if len(frames):
                    strips[video_id] = strip_jpeg(frames, height)
                    break
            except Exception as exc:  # any decoder/shard error: try the next source
                log.debug("frame source %s cannot read %s: %s", name, video_id, exc)
        else:
            log.warning("no frames for report strip of video %s", video_id)
    return strips
