"""Decode a compressed video into uint8 RGB frames, and say which decoder produced them.

Sharding streams every frame in chunks (long videos never sit whole in memory) through the
``DECODERS`` registry: decord first, an ffmpeg pipe as the fallback for files decord cannot
read (the order is data, ``ShardConfig.decoders``, not an if/elif chain). The raw-video
loader asks for a few frame indices only, through the ``SAMPLED`` registry in the order of
:func:`sampled_order`: PyAV (it ships its own FFmpeg), then decord; torchcodec is opt-in
(``TVRKIT_RAW_DECODERS=torchcodec,pyav``) because it needs the system's FFmpeg libraries.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from tvrkit.errors import ConfigError, DataError
from tvrkit.media.ffmpeg import ffmpeg_exe

log = logging.getLogger(__name__)
CHUNK = 32  # frames decoded per step: bounds memory for long videos, amortises decoder calls


@dataclasses.dataclass(frozen=True)
class VideoStream:
    """An opened video: its fps, its frame count when known up front, and a chunk iterator.

    ``chunks()`` yields arrays ``[n, H, W, 3]`` uint8 in display order; it may raise when
    the file turns out to be damaged part-way, which the caller treats as a decoder failure.
    """

    decoder: str
    fps: float
    num_frames: int | None
    chunks: Callable[[], Iterator[np.ndarray]]


@dataclasses.dataclass(frozen=True)
class DecodedVideo:
    """Every frame of a video in memory (tests, small clips, the raw loader's fallback)."""

    frames: np.ndarray  # [N, H, W, 3] uint8
    fps: float
    decoder: str


def _open_decord(path: str) -> VideoStream:
    import decord

    # One thread per reader: parallelism comes from processes (shard workers, loader workers).
    reader = decord.VideoReader(path, num_threads=1)
    total = len(reader)
    if total == 0:
        raise DataError(f"decord found no frames in {path}")

    def chunks() -> Iterator[np.ndarray]:
        for start in range(0, total, CHUNK):
            yield reader.get_batch(list(range(start, min(start + CHUNK, total)))).asnumpy()

    return VideoStream("decord", float(reader.get_avg_fps()), total, chunks)


_FPS_RE = re.compile(rb"Stream #\d+:\d+.*?Video:.*?, (\d+(?:\.\d+)?) fps")


def _read_ppm_frame(pipe: Any) -> np.ndarray | None:
    """One frame of ffmpeg's ``ppm`` image2pipe output (``P6\\nW H\\n255\\n`` + RGB bytes)."""
    magic = pipe.readline()
    if not magic:
        return None
    if magic.strip() != b"P6":
        raise DataError(f"ffmpeg pipe: unexpected frame header {magic[:16]!r}")
    width, height = (int(v) for v in pipe.readline().split())
    pipe.readline()  # maxval, always 255 for rgb24
    data = pipe.read(width * height * 3)
    if len(data) != width * height * 3:
        raise DataError("ffmpeg pipe: truncated frame")
    return np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)


def _open_ffmpeg(path: str) -> VideoStream:
    """Decode with the ffmpeg binary; PPM frames carry their own size, so no probe is needed."""
    exe = ffmpeg_exe()
    if not os.path.isfile(path):
        raise DataError(f"no such video: {path}")

    def chunks() -> Iterator[np.ndarray]:
        # passthrough keeps the stored frames exactly (no duplication to a constant rate).
        argv = [exe, "-nostdin", "-hide_banner", "-loglevel", "error", "-i", path, "-map", "0:v:0",
                "-fps_mode", "passthrough", "-f", "image2pipe", "-c:v", "ppm", "pipe:1"]
        with tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err)
            assert proc.stdout is not None
            batch: list[np.ndarray] = []
            try:
                while (frame := _read_ppm_frame(proc.stdout)) is not None:
                    batch.append(frame)
                    if len(batch) == CHUNK:
                        yield np.stack(batch)
                        batch = []
            finally:
                proc.stdout.close()
                code = proc.wait()
            if code != 0:
                err.seek(0)
                raise DataError(f"ffmpeg could not decode {path}: {err.read().decode(errors='replace').strip()[-300:]}")
            if batch:
                yield np.stack(batch)

    return VideoStream("ffmpeg", _ffmpeg_fps(exe, path), None, chunks)


def _ffmpeg_fps(exe: str, path: str) -> float:
    """The video stream's frame rate as ffmpeg reports it (``ffmpeg -i`` prints it, then exits 1)."""
    out = subprocess.run([exe, "-nostdin", "-hide_banner", "-i", path], capture_output=True, check=False)
    match = _FPS_RE.search(out.stderr)
    if not match:
        raise DataError(f"ffmpeg reports no video stream with a frame rate in {path}")
    return float(match.group(1))


DECODERS: dict[str, Callable[[str], VideoStream]] = {
    "decord": _open_decord,
    "ffmpeg": _open_ffmpeg,
}
DEFAULT_ORDER = ("decord", "ffmpeg")


def open_video(path: str | os.PathLike[str], decoder: str) -> VideoStream:
    """Open ``path`` with one named decoder (see ``DECODERS``)."""
    try:
        opener = DECODERS[decoder]
    except KeyError:
        raise DataError(f"unknown decoder {decoder!r}; known: {', '.join(DECODERS)}") from None
    return opener(os.fspath(path))


def decode_video(path: str | os.PathLike[str], order: Sequence[str] = DEFAULT_ORDER) -> DecodedVideo:
    """Decode every frame of ``path`` with the first decoder in ``order`` that succeeds."""
    errors = []
    for name in order:
        try:
            stream = open_video(path, name)
            frames = np.concatenate(list(stream.chunks()))
            return DecodedVideo(frames=frames, fps=stream.fps, decoder=name)
        except Exception as exc:  # each backend raises its own types; the next one gets a try
            errors.append(f"{name}: {exc}")
    raise DataError(f"no decoder could read {path} ({'; '.join(errors)})")


Pick = Callable[[int, float], Sequence[int]]  # (frame count, fps) -> frame indices
Sampled = tuple[list[int], np.ndarray]


def _sampled_pyav(path: str, pick: Pick) -> Sampled:
    """PyAV (its own FFmpeg build): frame count and rate from the container's index, then one
    decoding pass up to the last chosen frame, converting only the chosen ones to RGB."""
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1  # parallelism comes from loader processes
        total = stream.frames
        if total <= 0:
            raise DataError(f"{path}: the container does not state its frame count")
        indices = list(pick(total, float(stream.average_rate or stream.guessed_rate)))
        wanted, last, got = set(indices), max(indices, default=-1), {}
        for number, frame in enumerate(container.decode(stream)):
            if number in wanted:
                got[number] = frame.to_ndarray(format="rgb24")
            if number >= last:
                break
    if len(got) != len(wanted):
        raise DataError(f"{path}: decoded {len(got)} of the {len(wanted)} chosen frames (stated count {total})")
    return indices, np.stack([got[i] for i in indices]) if indices else np.zeros((0, 0, 0, 3), np.uint8)


# torchcodec loads the system's FFmpeg 4-9 shared libraries; Debian 12 names them so.
TORCHCODEC_LIBS = ("libavcodec59", "libavformat59", "libavutil57", "libswscale6", "libswresample4",
                   "libavdevice59", "libavfilter8")
TORCHCODEC_INSTALL = f"apt-get install {' '.join(TORCHCODEC_LIBS)}"
_MISSING_SO = re.compile(r"(lib[\w+-]+\.so(?:\.\d+)*): cannot open shared object file")


@functools.cache
def _torchcodec_decoder() -> Any:
    """torchcodec's ``VideoDecoder``, or a ``DataError`` naming the shared libraries it could not
    load and the command that installs them; tried once per process, said once."""
    try:
        from torchcodec._core import ops  # (pinned 0.17) tries each FFmpeg major version at import
        from torchcodec.decoders import VideoDecoder

        if not ops._FFMPEG_AVAILABLE:
            ops.load_core_libraries()  # raises the loader's error, listing every version it tried
    except Exception as exc:  # OSError or RuntimeError from its loader, listing every FFmpeg tried
        missing = sorted(set(_MISSING_SO.findall(str(exc))))
        what = f"{', '.join(missing)} not found" if missing else f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        reason = f"torchcodec cannot load FFmpeg's shared libraries ({what}); install them with: {TORCHCODEC_INSTALL}"
        log.warning("%s; raw video is decoded with the next back-end instead", reason)
        return DataError(reason)
    return VideoDecoder


def torchcodec_unavailable() -> str | None:
    """Why torchcodec cannot decode on this machine (the missing library and the install command),
    or None when it can."""
    found = _torchcodec_decoder()
    return str(found) if isinstance(found, DataError) else None


def _sampled_torchcodec(path: str, pick: Pick) -> Sampled:
    """torchcodec: frame count and rate from the container, exact seeking to the chosen frames."""
    decoder_class = _torchcodec_decoder()
    if isinstance(decoder_class, DataError):
        raise decoder_class
    decoder = decoder_class(path, num_ffmpeg_threads=1, dimension_order="NHWC")
    meta = decoder.metadata
    indices = list(pick(meta.num_frames or len(decoder), float(meta.average_fps)))
    return indices, decoder.get_frames_at(indices).data.numpy()


def _sampled_decord(path: str, pick: Pick) -> Sampled:
    import decord

    reader = decord.VideoReader(path, num_threads=1)
    indices = list(pick(len(reader), float(reader.get_avg_fps())))
    return indices, reader.get_batch(indices).asnumpy()


# Raw-video loader back-ends. ``benchmarks.decoders`` on 40 copies of the real MSR-VTT clip
# (3 fps, 224x298; 2,000 opens each, training sampler, one thread, taking turns): frames per CPU
# second torchcodec 131, PyAV 121, decord 117, RSS growth -4.0 / -0.5 / +3.0 MiB, all flat.
# PyAV is the default: its wheel carries its own FFmpeg, so it works on any machine, while
# torchcodec's 6-8 % gain needs FFmpeg's shared libraries installed system-wide (root on Debian).
# decord, the shard stage's decoder, reads what PyAV cannot (containers without a frame count).
SAMPLED: dict[str, Callable[[str, Pick], Sampled]] = {
    "pyav": _sampled_pyav,
    "decord": _sampled_decord,
    "torchcodec": _sampled_torchcodec,
}
SAMPLED_ORDER = ("pyav", "decord")
ORDER_ENV = "TVRKIT_RAW_DECODERS"


def sampled_order() -> tuple[str, ...]:
    """The raw loader's back-ends in the order tried: ``$TVRKIT_RAW_DECODERS`` (comma-separated
    names of ``SAMPLED``, e.g. ``torchcodec,pyav`` to opt in to torchcodec) or ``SAMPLED_ORDER``."""
    value = os.environ.get(ORDER_ENV, "")
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    unknown = [name for name in names if name not in SAMPLED]
    if unknown:
        raise ConfigError(f"{ORDER_ENV}={value!r}: unknown back-end {', '.join(unknown)}; known: {', '.join(SAMPLED)}")
    return names or SAMPLED_ORDER


def read_sampled(path: str | os.PathLike[str], pick: Pick, order: Sequence[str] | None = None) -> Sampled:
    """Open ``path`` once, let ``pick(num_frames, fps)`` choose frame indices, return them and
    their frames ``[n, H, W, 3]`` uint8, with the first back-end of ``order`` that succeeds
    (names of ``SAMPLED``; by default :func:`sampled_order`)."""
    errors = []
    for name in sampled_order() if order is None else order:
        try:
            return SAMPLED[name](os.fspath(path), pick)
        except Exception as exc:  # each back-end raises its own types; the next one gets a try
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
    raise DataError(f"no decoder could read {path} ({'; '.join(errors)})")
