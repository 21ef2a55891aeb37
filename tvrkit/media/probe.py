"""Probe videos with the ffmpeg binary alone (imageio-ffmpeg ships no ffprobe).

The header comes from ffmpeg's own ``Input #0`` printout; the frame count from
reading the first video stream to ``-f null`` with ``-progress`` (demuxed packets, or
decoded frames). Parsing is pure
(unit-tested on captured text); :func:`probe` runs ffmpeg. :func:`output_problem`
decides whether a compressed file is trustworthy: it must decode without errors and
its frames, rate, size and duration must match what compression was asked to make.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess

from tvrkit.media.argv import probe_argv

_DURATION = re.compile(r"Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #0:\d+\S*: Video: (\w+)")
_SIZE = re.compile(r"\b(\d{2,5})x(\d{2,5})\b")
_SAR = re.compile(r"\[SAR (\d+):(\d+) DAR")
_RATE = re.compile(r"([\d.]+)(k?) (fps|tbr)\b")
_AUDIO = re.compile(r"Stream #0:\d+\S*: Audio:")
_LEVEL = re.compile(r"\[(error|fatal|panic)\] ")
_PREFIX = re.compile(r"^(\[[^\]]*\] )+")
# Lines at error level that ffmpeg prints for reasons other than a broken input.
_BENIGN = ("At least one output file must be specified",)


@dataclasses.dataclass(frozen=True)
class MediaInfo:
    """What a probe found; fields are None when the file did not say."""

    duration: float | None = None
    fps: float | None = None
    width: int | None = None
    height: int | None = None
    codec: str | None = None
    sar: float | None = None
    has_audio: bool = False
    frames: int | None = None
    errors: tuple[str, ...] = ()

    @property
    def has_video(self) -> bool:
        return self.codec is not None


def _input_section(stderr: str) -> list[str]:
    """Lines describing ``Input #0`` (ffmpeg also prints ``Output #0`` with similar lines)."""
    lines, inside = [], False
    for line in stderr.splitlines():
        text = line.split("] ", 1)[1] if line.startswith("[") and "] " in line else line
        if text.startswith("Input #0"):
            inside = True
        elif text.startswith(("Output #", "Stream mapping", "Input #1")):
            inside = False
        elif inside:
            lines.append(text)
    return lines


def _rate(text: str) -> float | None:
    rates = {kind: float(num) * (1000 if k else 1) for num, k, kind in _RATE.findall(text)}
    return rates.get("fps") or rates.get("tbr")


def parse_header(stderr: str) -> MediaInfo:
    """Duration, first video stream (codec, size, SAR, rate) and audio presence of ``Input #0``."""
    section = _input_section(stderr)
    duration = codec = width = height = sar = fps = None
    has_audio = False
    for text in section:
        if duration is None and (m := _DURATION.search(text)):
            h, mnt, sec = m.groups()
            duration = int(h) * 3600 + int(mnt) * 60 + float(sec)
        if codec is None and (m := _VIDEO.search(text)):
            codec = m.group(1)
            tail = text[m.end():]
            if size := _SIZE.search(tail):
                width, height = int(size.group(1)), int(size.group(2))
            if s := _SAR.search(tail):
                num, den = int(s.group(1)), int(s.group(2))
                sar = num / den if num and den else None
            fps = _rate(tail)
        has_audio = has_audio or bool(_AUDIO.search(text))
    return MediaInfo(duration=duration, fps=fps, width=width, height=height, codec=codec, sar=sar, has_audio=has_audio)


def parse_progress(stdout: str) -> dict[str, str]:
    """The last value of each ``key=value`` line of ``-progress`` output."""
    values: dict[str, str] = {}
    for line in stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values


_ADDRESS = re.compile(r" @ 0x[0-9a-fA-F]+(?=\])")


def error_lines(stderr: str) -> tuple[str, ...]:
    """Lines ffmpeg logged at error level or worse (needs ``-loglevel level+...``)."""
    return tuple(line for line in stderr.splitlines() if _LEVEL.search(line) and not any(b in line for b in _BENIGN))


def strip_level(line: str) -> str:
    """``"[h264 @ 0x1] [error] bad NAL"`` -> ``"bad NAL"``."""
    return _PREFIX.sub("", line)


def stderr_tail(stderr: str, lines: int = 15) -> str:
    """The last ``lines`` lines of ffmpeg's stderr (what a failure record keeps), without the
    object addresses ffmpeg prints (``[h264 @ 0x55c1f3d45380]`` -> ``[h264]``): they change
    from run to run, and identical inputs must give identical failure logs."""
    return "\n".join(_ADDRESS.sub("", line) for line in stderr.strip().splitlines()[-lines:])


class ProbeError(Exception):
    """ffmpeg could not be run on the file, or did not finish in time."""


def probe(path: str | os.PathLike[str], exe: str, depth: str = "frames", timeout: float | None = None) -> MediaInfo:
    """Probe ``path`` to ``depth`` (see :func:`~tvrkit.media.argv.probe_argv`): the header,
    and with "packets" or "frames" the count of video packets or decoded frames.

    Read errors land in ``MediaInfo.errors``; a file ffmpeg cannot open yields a
    ``MediaInfo`` without video. Raises :class:`ProbeError` only on a timeout.
    """
    try:
        proc = subprocess.run(probe_argv(exe, path, depth), capture_output=True, text=True,
                              errors="replace", timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ProbeError(f"probing {path} took longer than {timeout} s") from exc
    info = parse_header(proc.stderr)
    errors = error_lines(proc.stderr)
    if depth == "header":
        return dataclasses.replace(info, errors=errors)
    frames = parse_progress(proc.stdout).get("frame")
    if proc.returncode != 0 and not errors:
        errors = (f"ffmpeg exited with status {proc.returncode}",)
    return dataclasses.replace(info, frames=int(frames) if frames and frames.isdigit() else None, errors=errors)


def duration_tolerance(source_duration: float, fps: float) -> float:
    """Seconds an output may fall short of its source before it counts as truncated.

    Container durations include audio, which often runs a little past the video, so
    the allowance is generous (10%, at least 1 s) plus one output frame of rounding;
    a source cut in half still fails.
    """
    return max(1.0, 0.1 * source_duration) + 1.0 / fps


def output_problem(info: MediaInfo, fps: float, size: int, source_duration: float | None = None) -> str | None:
    """Why a compressed file is not a valid output of (``fps``, ``size``), or None if it is."""
    if info.errors:
        return f"decoding the output failed: {info.errors[0]}"
    if not info.has_video or info.width is None or info.height is None:
        return "the output has no video stream"
    if info.codec != "h264":
        return f"the output is {info.codec}, not h264"
    if min(info.width, info.height) != size or info.width % 2 or info.height % 2:
        return f"the output is {info.width}x{info.height}; expected short side {size} and even sides"
    if info.has_audio:
        return "the output has an audio stream"
    if info.fps is None or abs(info.fps - fps) > 0.01:
        return f"the output runs at {info.fps} fps; expected {fps}"
    if not info.frames:
        return "no frame of the output could be decoded"
    if info.duration is None or abs(info.frames - info.duration * fps) > 1.5:
        return f"the output decodes to {info.frames} frames but claims {info.duration} s at {fps} fps"
    if source_duration and info.duration < source_duration - duration_tolerance(source_duration, fps):
        return f"the output covers {info.duration:.2f} s of a {source_duration:.2f} s source (truncated input?)"
    return None
