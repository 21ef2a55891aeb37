"""The compression stage: each source video -> ``OUT/{video_id}.mp4`` (H.264, ``fps``
frames per second, short side ``size``), in parallel, resumable and crash-safe.

One ffmpeg process per video, at most ``workers`` at a time, each with a decoder
thread budget that keeps the machine from being oversubscribed. An output is written
under a temporary name and renamed only after it probes as valid, so a killed run
never leaves a file a later run would trust; a re-run skips outputs that decode fully
and match their source (frames, rate, size, duration) and redoes the rest. A bad input
is an :class:`Outcome` with a reason, never an exception, so one broken video does not
stop the others.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import glob
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from tvrkit.config import option
from tvrkit.fsutil import atomic_path
from tvrkit.media.argv import compress_argv, thread_budget, usable_cores
from tvrkit.media.probe import (
    MediaInfo,
    ProbeError,
    error_lines,
    output_problem,
    parse_header,
    probe,
    stderr_tail,
    strip_level,
)

log = logging.getLogger(__name__)
_DISK_FULL = "No space left on device"  # ffmpeg's (strerror's) words when a write fails for space


@dataclasses.dataclass(frozen=True)
class CompressConfig:
    """Settings of the compression stage: each option's default, description and allowed values
    (``schemas/compress.schema.json`` is generated from them)."""

    fps: float = option(3.0, "Output frames per second (the field samples 1-3 fps from these).", exclusive_minimum=0)
    size: int = option(224, "Output short side in pixels (even: H.264 4:2:0 needs even sides); aspect ratio kept.",
                       minimum=16, multiple_of=2)
    crf: int = option(23, "x264 constant rate factor (lower = better quality, bigger files).", minimum=0, maximum=51)
    preset: str = option("superfast", "x264 speed preset. At 224p and 3 fps the encoder sees ~1/10 of the source's "
                         "frames at a fraction of its pixels; slower presets mostly shrink files that are already "
                         "small.", choices=("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"))
    workers: int = option(0, "Parallel ffmpeg processes; 0 = one per usable core. Decoder threads per process = "
                          "cores // workers.", minimum=0)
    timeout: float = option(600.0, "Seconds one video may take before its ffmpeg is killed and the video recorded as "
                            "failed.", exclusive_minimum=0)
    ffmpeg: str | None = option(None, "ffmpeg binary to run (default: $TVRKIT_FFMPEG, else the one shipped by "
                                "imageio-ffmpeg).")


@dataclasses.dataclass(frozen=True)
class Job:
    """One video to compress; ``source`` is None when no file was found for it."""

    video_id: str
    source: Path | None


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What happened to one video: status ``ok``, ``skipped`` (valid output already there),
    ``missing`` (no source file) or ``failed``; ``step`` and ``error`` say where and why."""

    video_id: str
    status: str
    info: MediaInfo | None = None
    step: str | None = None
    error: str | None = None
    stderr: str | None = None


class _Failed(Exception):
    def __init__(self, step: str, error: str, stderr: str = "") -> None:
        super().__init__(error)
        self.step, self.error, self.stderr = step, error, stderr


class _Cancelled(Exception):
    """The run is being interrupted; the job must leave nothing behind."""


def output_path(out_dir: Path, video_id: str) -> Path:
    """``OUT/{video_id}.mp4``."""
    return out_dir / f"{video_id}.mp4"


class Compressor:
    """Runs jobs for one output folder; ``cancel()`` kills every running ffmpeg."""

    def __init__(self, out_dir: Path, cfg: CompressConfig, exe: str, threads: int) -> None:
        self.out_dir, self.cfg, self.exe, self.threads = out_dir, cfg, exe, threads
        self._cancelled = threading.Event()
        self._procs: set[subprocess.Popen[str]] = set()
        self._lock = threading.Lock()

    def cancel(self) -> None:
        self._cancelled.set()
        with self._lock:
            for proc in self._procs:
                with contextlib.suppress(OSError):
                    proc.kill()

    def run(self, job: Job) -> Outcome:
        """Compress one video (or confirm its existing output); never raises for bad input.

        Without a source, a valid existing output still counts (raw videos are often
        deleted once compressed); otherwise the video is missing."""
        out = output_path(self.out_dir, job.video_id)
        self._remove_stale_temps(out)
        if job.source is None:
            info, problem = self._check(out, None) if out.exists() else (None, "absent")
            if problem is None:
                return Outcome(job.video_id, "skipped", info=info)
            return Outcome(job.video_id, "missing", step="locate", error="no video file found for this id")
        try:
            if out.exists():
                info, problem = self._check(out, job.source)
                if problem is None:
                    return Outcome(job.video_id, "skipped", info=info)
                log.info("redoing %s: %s", job.video_id, problem)
            return Outcome(job.video_id, "ok", info=self._compress(job.source, out))
        except _Failed as exc:
            return Outcome(job.video_id, "failed", step=exc.step, error=exc.error, stderr=exc.stderr)

    def _check(self, out: Path, source: Path | None) -> tuple[MediaInfo | None, str | None]:
        """Decode an existing output and check it against the settings and its source's duration."""
        try:
            source_duration = probe(source, self.exe, "header", timeout=self.cfg.timeout).duration if source else None
            info = probe(out, self.exe, "frames", timeout=self.cfg.timeout)
        except ProbeError as exc:
            return None, str(exc)
        return info, output_problem(info, self.cfg.fps, self.cfg.size, source_duration)

    def _compress(self, source: Path, out: Path) -> MediaInfo:
        with atomic_path(out, suffix=".mp4") as tmp:
            argv = compress_argv(self.exe, source, tmp, fps=self.cfg.fps, size=self.cfg.size,
                                 crf=self.cfg.crf, preset=self.cfg.preset, threads=self.threads)
            returncode, stderr = self._ffmpeg(argv)
            if returncode != 0:
                if _DISK_FULL in stderr:  # the output's disk, not this video: every later one would fail too
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(out.parent))
                errors = error_lines(stderr)
                reason = strip_level(errors[0]) if errors else "no error message"
                raise _Failed("compress", f"ffmpeg exited with status {returncode}: {reason}", stderr_tail(stderr))
            try:
                # ffmpeg has just encoded these frames; reading the packets back proves the file
                # is whole and counts them at a third of the cost of decoding them again.
                info = probe(tmp, self.exe, "packets", timeout=self.cfg.timeout)
            except ProbeError as exc:
                raise _Failed("verify", str(exc)) from exc
            problem = output_problem(info, self.cfg.fps, self.cfg.size, parse_header(stderr).duration)
            if problem is not None:
                raise _Failed("verify", problem, stderr_tail(stderr))
        return info

    def _ffmpeg(self, argv: list[str]) -> tuple[int, str]:
        """Run ffmpeg with the per-video timeout; a cancelled run raises instead of reporting."""
        if self._cancelled.is_set():
            raise _Cancelled
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, errors="replace")
        with self._lock:
            self._procs.add(proc)
            if self._cancelled.is_set():  # cancel() ran between Popen and add
                proc.kill()
        try:
            _, stderr = proc.communicate(timeout=self.cfg.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate()
            raise _Failed("compress", f"ffmpeg did not finish within {self.cfg.timeout:g} s; killed",
                          stderr_tail(stderr)) from None
        finally:
            with self._lock:
                self._procs.discard(proc)
        if self._cancelled.is_set():
            raise _Cancelled
        return proc.returncode, stderr

    @staticmethod
    def _remove_stale_temps(out: Path) -> None:
        # Temporary outputs of a run that was killed (atomic_path names them ".NAME.*.tmp.mp4").
        for stale in glob.glob(glob.escape(str(out.parent / f".{out.name}.")) + "*.tmp.mp4"):
            Path(stale).unlink(missing_ok=True)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (Slurm, ``kill``) like Ctrl-C so running ffmpegs are killed and
    temporary outputs removed; only possible from the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def resolve_workers(cfg: CompressConfig, cores: int | None = None) -> tuple[int, int]:
    """``(workers, decoder threads per ffmpeg)`` for this machine."""
    cores = cores or usable_cores()
    workers = cfg.workers or cores
    return workers, thread_budget(workers, cores)


def compress_videos(
    jobs: Sequence[Job],
    out_dir: str | Path,
    cfg: CompressConfig,
    exe: str,
    on_outcome: Callable[[Outcome], None] | None = None,
    progress: bool | None = None,
) -> list[Outcome]:
    """Compress ``jobs`` into ``out_dir``; return one :class:`Outcome` per job, in job order.

    ``on_outcome`` is called (from the calling thread) as each video finishes, e.g. to
    append failures to disk while the run goes on. ``progress`` shows a progress bar
    (default: when stderr is a terminal). Ctrl-C or SIGTERM kills the running ffmpegs,
    removes their temporary files and re-raises.
    """
    from tqdm import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    workers, threads = resolve_workers(cfg)
    compressor = Compressor(out, cfg, exe, threads)
    results: dict[int, Outcome] = {}
    show = sys.stderr.isatty() if progress is None else progress
    with _sigterm_as_interrupt(), tqdm(total=len(jobs), unit="video", disable=not show, desc="compress") as bar:
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ffmpeg")
        try:
            futures = {pool.submit(compressor.run, job): i for i, job in enumerate(jobs)}
            for future in as_completed(futures):
                outcome = future.result()
                results[futures[future]] = outcome
                if on_outcome is not None:
                    on_outcome(outcome)
                bar.update(1)
        except BaseException:
            compressor.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    return [results[i] for i in range(len(jobs))]
