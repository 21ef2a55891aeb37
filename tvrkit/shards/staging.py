"""Encode one compressed video into a staged fragment: its frames as JPEGs plus a JSON meta,
laid out as the tar members of one WebDataset sample.

Fragments are the unit of parallel work and of resume: each is written atomically under
``ROOT/shards/.staging/``, so a killed run keeps every finished video, and shards of either
format are later packed from fragments in a fixed order (byte-identical for any worker
count). ``encode_video`` returns its failure instead of raising, so a pool never dies on
one bad file.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import urllib.parse
from pathlib import Path
from typing import Any

from tvrkit.fsutil import atomic_path, is_output_error
from tvrkit.shards.formats.tario import iter_members, member_bytes, read_member

META_SUFFIX = ".json"


def sample_key(video_id: str) -> str:
    """Tar member prefix of a video: WebDataset splits a name at its first dot, so dots,
    slashes and percent signs in ids are percent-escaped (``video7500`` stays as is)."""
    return urllib.parse.quote(video_id, safe="").replace(".", "%2E")


def frame_member(video_id: str, index: int) -> str:
    """Member name of frame ``index`` (``{key}.{index:04d}.jpg``)."""
    return f"{sample_key(video_id)}.{index:04d}.jpg"


def meta_member(video_id: str) -> str:
    """Member name of a video's JSON meta (``{key}.json``)."""
    return sample_key(video_id) + META_SUFFIX


def meta_bytes(meta: dict[str, Any]) -> bytes:
    """Canonical JSON bytes of a video's meta (stable key order, no whitespace)."""
    return json.dumps(meta, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def encode_jpeg(frame: Any, quality: int) -> bytes:
    """JPEG bytes of one ``[H, W, 3]`` uint8 frame (libjpeg via Pillow; deterministic)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


@dataclasses.dataclass(frozen=True)
class EncodeJob:
    """One video to stage (picklable: it crosses into worker processes)."""

    video_id: str
    source: str
    fragment: str
    jpeg_quality: int
    decoders: tuple[str, ...]
    crop_size: int | None = None  # store only the central square of this side (shard --crop center)


@dataclasses.dataclass(frozen=True)
class Staged:
    """A video's fragment on disk, or why it could not be made."""

    video_id: str
    fragment: str
    bytes: int = 0
    frames: int = 0
    decoder: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


_CLOCK_RE = re.compile(r"\[\d{2}:\d{2}:\d{2}\]\s*")


def _clean(message: str) -> str:
    """An error message fit for the manifest: decord stamps the time of day into its messages,
    which would make identical inputs give different manifests."""
    return " ".join(_CLOCK_RE.sub("", message).split())[:400]


def read_fragment_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON meta of a staged fragment (its last member)."""
    members = list(iter_members(path))
    with open(path, "rb") as fh:
        return json.loads(read_member(fh, members[-1]))


def center_square(chunk: Any, size: int) -> Any:
    """``[n, H, W, 3]`` frames as the loaders crop them (:func:`~tvrkit.shards.frames.square_crop`:
    short side resized to ``size`` if needed, then the central square), still ``[n, size, size, 3]``."""
    import torch

    from tvrkit.shards.frames import square_crop

    frames = square_crop(torch.from_numpy(chunk).permute(0, 3, 1, 2), size)
    return frames.permute(0, 2, 3, 1).contiguous().numpy()


def _write_fragment(job: EncodeJob, decoder: str) -> dict[str, Any]:
    from tvrkit.media.decode import open_video

    stream = open_video(job.source, decoder)
    count, width, height = 0, 0, 0
    with atomic_path(job.fragment) as tmp, open(tmp, "wb") as out:
        for chunk in stream.chunks():
            if job.crop_size is not None:
                chunk = center_square(chunk, job.crop_size)
            for frame in chunk:
                out.write(member_bytes(frame_member(job.video_id, count), encode_jpeg(frame, job.jpeg_quality)))
                count += 1
            height, width = chunk.shape[1:3]
        if count == 0:
            raise ValueError("the video has no frames")
        meta = {"video_id": job.video_id, "frames": count, "fps": stream.fps,
                "width": int(width), "height": int(height), "decoder": decoder}
        out.write(member_bytes(meta_member(job.video_id), meta_bytes(meta)))
    return meta


def encode_video(job: EncodeJob) -> Staged:
    """Stage ``job`` (or reuse its finished fragment); try each decoder in order."""
    if os.path.exists(job.fragment):
        try:
            meta = read_fragment_meta(job.fragment)
            return Staged(job.video_id, job.fragment, os.path.getsize(job.fragment), meta["frames"], meta["decoder"])
        except Exception:
            os.unlink(job.fragment)  # unreadable leftovers are redone, never trusted
    if not os.path.isfile(job.source):
        return Staged(job.video_id, job.fragment, error=f"compressed video missing: {Path(job.source).name}")
    errors = []
    for decoder in job.decoders:
        try:
            meta = _write_fragment(job, decoder)
            return Staged(job.video_id, job.fragment, os.path.getsize(job.fragment), meta["frames"], decoder)
        except Exception as exc:  # decoders raise many types; each gets its turn, then we report
            if is_output_error(exc):  # a full or read-only disk is not this video's fault: the stage stops
                raise
            # the file name, not its path: manifests of identical inputs match wherever ROOT is
            message = _clean(str(exc)).replace(job.source, Path(job.source).name)
            errors.append(f"{decoder}: {type(exc).__name__}: {message}")
    return Staged(job.video_id, job.fragment, error="; ".join(errors))
