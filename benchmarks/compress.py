"""Compression benchmark: time of the prepare stage's compressor on N 720p source videos
against the decode-only floor, ``ffmpeg -i IN -f null -`` on the same inputs.

The sources are real footage when ``../shared/fixtures`` is present: the MSR-VTT clip there
(stored at 3 fps, short side 224) upscaled to 1280x720 at 30 fps with a light temporal grain,
so that no frame is a free duplicate of the last and decoding costs what 720p web video
costs; otherwise ffmpeg's ``testsrc2`` pattern at the same size and rate. Both are x264
"medium" (CABAC, B-frames) with AAC audio, as downloaded datasets are.

Decoding the source is work no compressor can skip, so the ratio says how much the rest
(fps filter, scaling, x264, muxing, validating the output) costs on top. Both are run in
the same process on the same cores, with the same number of parallel ffmpegs and the
same decoder threads each, alternately, best of ``repeats``.

``python -m benchmarks.compress --videos 16``
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks import REAL_CLIP
from tvrkit.media.argv import decode_null_argv, usable_cores
from tvrkit.media.compress import CompressConfig, Job, compress_videos, resolve_workers
from tvrkit.media.ffmpeg import ffmpeg_exe, ffmpeg_version
from tvrkit.media.testsrc import make_video


@dataclasses.dataclass(frozen=True)
class CompressBenchConfig:
    """Source videos to generate and how to compress them (defaults: MSR-VTT-like clips)."""

    videos: int = 16
    width: int = 1280
    height: int = 720
    duration: float = 10.0
    fps: int = 30
    source: str = "auto"  # real (the fixture clip upscaled), testsrc, or auto: real when present
    workers: int = 0  # 0: one per usable core, as `tvrkit prepare`
    repeats: int = 2


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def _timed(into: list[tuple[float, float]]) -> Iterator[None]:
    """Append ``(wall seconds, CPU seconds of finished child processes)`` of the block.

    CPU time of the ffmpeg children is the figure that other load on a shared machine
    disturbs least; wall time is what a user waits for."""
    wall, cpu = time.perf_counter(), _children_cpu()
    yield
    into.append((time.perf_counter() - wall, _children_cpu() - cpu))


def _real_source(clip: Path, path: Path, cfg: CompressBenchConfig, exe: str) -> Path:
    """``clip`` upscaled to ``width x height`` at ``fps`` with temporal grain, x264 medium + AAC."""
    vf = f"fps={cfg.fps},scale={cfg.width}:{cfg.height}:flags=bicubic,setsar=1,noise=alls=6:allf=t"
    argv = [exe, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-stream_loop", "-1", "-i", str(clip),
            "-f", "lavfi", "-i", f"sine=frequency=440:duration={cfg.duration}", "-t", str(cfg.duration),
            "-vf", vf, "-c:v", "libx264", "-preset", "medium", "-pix_fmt", "yuv420p", "-c:a", "aac",
            "-map", "0:v", "-map", "1:a", "-fflags", "+bitexact", "-map_metadata", "-1", str(path)]
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(argv, check=True, capture_output=True)
    return path


def _sources(folder: Path, cfg: CompressBenchConfig, exe: str) -> tuple[list[Path], str]:
    """The benchmark's inputs and a line saying what they are: one source made once, then copied
    (each copy is decoded and compressed in full; making N distinct 720p encodes costs more than
    the benchmark itself)."""
    real = cfg.source == "real" or (cfg.source == "auto" and REAL_CLIP.is_file())
    if real and not REAL_CLIP.is_file():
        raise FileNotFoundError(f"source real: {REAL_CLIP} is absent")
    first = folder / "src" / "v000.mp4"
    if real:
        _real_source(REAL_CLIP, first, cfg, exe)
        what = f"real MSR-VTT clip {REAL_CLIP.name} upscaled"
    else:
        make_video(first, cfg.width, cfg.height, cfg.duration, cfg.fps, audio=True, preset="medium", exe=exe)
        what = "testsrc2"
    sources = [first]
    for i in range(1, cfg.videos):
        sources.append(Path(shutil.copyfile(first, folder / "src" / f"v{i:03d}.mp4")))
    mbps = first.stat().st_size * 8 / cfg.duration / 1e6
    return sources, f"{what} to {cfg.width}x{cfg.height} {cfg.fps} fps {cfg.duration:g} s, x264 medium + AAC, " \
                    f"{mbps:.1f} Mbit/s"


def _decode_all(sources: list[Path], exe: str, workers: int, threads: int) -> None:
    def decode(src: Path) -> None:
        subprocess.run(decode_null_argv(exe, src, threads), check=True, capture_output=True)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(decode, sources))


def _compress_all(sources: list[Path], out_dir: Path, cfg: CompressConfig, exe: str) -> None:
    outcomes = compress_videos([Job(src.stem, src) for src in sources], out_dir, cfg, exe, progress=False)
    bad = [o for o in outcomes if o.status != "ok"]
    if bad:
        raise RuntimeError(f"benchmark compression failed: {bad[0].video_id}: {bad[0].error}")


def run_compress_bench(cfg: CompressBenchConfig) -> dict[str, Any]:
    """Generate the sources, time floor and compression alternately; return the figures."""
    exe = ffmpeg_exe()
    compress_cfg = CompressConfig(workers=cfg.workers)
    workers, threads = resolve_workers(compress_cfg)
    with tempfile.TemporaryDirectory(prefix="tvrkit-bench-compress-") as tmp:
        folder = Path(tmp)
        sources, described = _sources(folder, cfg, exe)
        floors: list[tuple[float, float]] = []
        compresses: list[tuple[float, float]] = []
        for r in range(cfg.repeats):
            with _timed(floors):
                _decode_all(sources, exe, workers, threads)
            with _timed(compresses):
                _compress_all(sources, folder / f"out{r}", compress_cfg, exe)
    (floor, floor_cpu), (compress, compress_cpu) = min(floors), min(compresses)
    return {
        "videos": cfg.videos,
        "source": described,
        "cores": usable_cores(),
        "workers": workers,
        "decoder_threads": threads,
        "floor_seconds": round(floor, 3),
        "compress_seconds": round(compress, 3),
        "ratio": round(compress / floor, 3),
        "floor_cpu_seconds": round(floor_cpu, 3),
        "compress_cpu_seconds": round(compress_cpu, 3),
        "cpu_ratio": round(compress_cpu / floor_cpu, 3),
        "compress_videos_per_second": round(cfg.videos / compress, 2),
        "ffmpeg": ffmpeg_version(exe),
        "settings": dataclasses.asdict(compress_cfg),
    }


def format_report(result: dict[str, Any]) -> str:
    """Human-readable lines: the floor, the compressor and their ratio."""
    return "\n".join([
        f"compress: {result['videos']} videos of {result['source']}; {result['cores']} cores, "
        f"{result['workers']} ffmpeg at a time x {result['decoder_threads']} decoder threads",
        f"  floor   ffmpeg -i IN -f null -   wall {result['floor_seconds']:7.2f} s   "
        f"cpu {result['floor_cpu_seconds']:7.2f} s",
        f"  tvrkit  compress + validate      wall {result['compress_seconds']:7.2f} s   "
        f"cpu {result['compress_cpu_seconds']:7.2f} s   ({result['compress_videos_per_second']} videos/s)",
        f"  ratio   wall {result['ratio']:.2f}x, cpu {result['cpu_ratio']:.2f}x the decode-only floor "
        "(target <= 1.15x)",
    ])


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.compress``: run and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = CompressBenchConfig()
    for field in dataclasses.fields(CompressBenchConfig):
        parser.add_argument(f"--{field.name}", type=type(getattr(defaults, field.name)),
                            default=getattr(defaults, field.name))
    print(format_report(run_compress_bench(CompressBenchConfig(**vars(parser.parse_args(argv))))))


if __name__ == "__main__":
    main()
