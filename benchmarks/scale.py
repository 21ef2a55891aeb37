"""Scale benchmark: prepare + shard + one loader pass over N videos, at two sizes (default
200 and 2,000), reporting seconds per video and peak RSS of each: the cost per video must
stay flat (ratio <= 1.1) and memory must not grow with the number of videos.

The videos are hard links (copies where links are refused) of one tiny clip: the first 2 s
of the real MSR-VTT clip in ``../shared/fixtures`` (3 fps, short side 224: 6 frames) when
present, else a generated ``testsrc2`` clip of the same size, rate and length. Each is
still decoded, compressed, probed, decoded again, JPEG-encoded and loaded in full; tiny
clips keep 2,000 of them affordable on 2 cores and make any per-run cost that grows with
N (lists rebuilt per video, files rewritten per video) stand out. Each size runs in a
fresh process, so the peak RSS it reports is its own.

    python -m benchmarks.scale --sizes 200 2000
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks import REAL_CLIP

PHASES = ("prepare", "shard", "loader")
SPLIT = "test"
CLIP_SECONDS = 2.0


def _rss_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux reports KiB


def make_clip(path: Path, exe: str) -> str:
    """The tiny source clip; returns what it is."""
    from tvrkit.media.testsrc import make_video

    if REAL_CLIP.is_file():
        argv = [exe, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(REAL_CLIP),
                "-t", str(CLIP_SECONDS), "-an", "-c:v", "libx264", "-preset", "medium", "-pix_fmt", "yuv420p",
                "-fflags", "+bitexact", "-map_metadata", "-1", str(path)]
        subprocess.run(argv, check=True, capture_output=True)
        return f"the first {CLIP_SECONDS:g} s of the real clip {REAL_CLIP.name} (3 fps, 298x224)"
    make_video(path, 298, 224, duration=CLIP_SECONDS, fps=3, preset="medium", exe=exe)
    return f"a generated testsrc2 clip, {CLIP_SECONDS:g} s, 3 fps, 298x224"


def _inputs(folder: Path, clip: Path, n: int) -> Path:
    """``n`` links to ``clip`` under ``folder/raw`` and a captions CSV naming them."""
    raw = folder / "raw"
    raw.mkdir(parents=True)
    lines = ["video_id,caption,split"]
    for i in range(n):
        vid = f"v{i:05d}"
        try:
            os.link(clip, raw / f"{vid}.mp4")
        except OSError:
            (raw / f"{vid}.mp4").write_bytes(clip.read_bytes())
        lines.append(f"{vid},copy {i} of the clip,{SPLIT}")
    (folder / "captions.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return raw


def _loader_pass(root: Path, workers: int) -> int:
    """Videos one eval-loader pass delivers. Batches of 8: the main process holds up to
    workers x prefetch finished batches at a time, a varying number, and small batches keep
    that noise in the peak RSS small next to what would grow with the number of videos."""
    from tvrkit.data.config import DataConfig
    from tvrkit.data.loader import build_video_loader

    cfg = DataConfig(root=str(root), format="wds", test_split=SPLIT, max_frames=6, frame_rate=3.0,
                     eval_batch_size=8, workers=workers, image_size=224)
    return sum(len(batch["video_ids"]) for batch in build_video_loader(cfg, SPLIT, 224))


def _measure(args: tuple[int, str, int]) -> dict[str, Any]:
    """One size, in its own process: each phase's seconds and the peak RSS after it."""
    import logging

    from tvrkit.prepare import PrepareConfig, run_prepare
    from tvrkit.shards.config import ShardConfig
    from tvrkit.shards.stage import run_shard

    logging.disable(logging.WARNING)
    n, clip, workers = args
    out: dict[str, Any] = {"videos": n, "rss_after_import_mib": _rss_mib(resource.RUSAGE_SELF)}
    with tempfile.TemporaryDirectory(prefix=f"tvrkit-bench-scale-{n}-") as tmp:
        folder = Path(tmp)
        raw, root = _inputs(folder, Path(clip), n), folder / "root"
        steps = {
            "prepare": lambda: run_prepare(PrepareConfig(dataset="custom", root=str(root), videos_dir=str(raw),
                                                         captions=str(folder / "captions.csv")))["ok"],
            "shard": lambda: run_shard(ShardConfig(root=str(root), format="wds", workers=workers))["ok"],
            "loader": lambda: _loader_pass(root, workers),
        }
        for phase in PHASES:
            started = time.perf_counter()
            done = steps[phase]()
            if done != n:
                raise RuntimeError(f"scale bench: {phase} handled {done} of {n} videos")
            out[phase] = {"seconds": time.perf_counter() - started, "rss_mib": _rss_mib(resource.RUSAGE_SELF),
                          "children_rss_mib": _rss_mib(resource.RUSAGE_CHILDREN)}
    out["load_average"] = os.getloadavg()[0]
    return out


def run_scale_bench(sizes: tuple[int, ...] = (200, 2000), workers: int = 2) -> dict[str, Any]:
    """Measure every size (each in a fresh process); ratios compare the largest to the smallest."""
    from tvrkit.media.ffmpeg import ffmpeg_exe

    with tempfile.TemporaryDirectory(prefix="tvrkit-bench-clip-") as tmp:
        clip = Path(tmp) / "clip.mp4"
        described = make_clip(clip, ffmpeg_exe())
        runs = []
        for n in sizes:
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
                runs.append(pool.submit(_measure, (n, str(clip), workers)).result())
    return {"clip": described, "workers": workers, **summarise(runs)}


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Seconds per video of each phase and size, and the largest size's over the smallest's."""
    small, large = runs[0], runs[-1]
    per_video = {r["videos"]: {p: r[p]["seconds"] / r["videos"] for p in PHASES} for r in runs}
    for r in runs:
        per_video[r["videos"]]["total"] = sum(per_video[r["videos"]][p] for p in PHASES)
    ratios = {p: per_video[large["videos"]][p] / per_video[small["videos"]][p] for p in (*PHASES, "total")}
    ratios["rss"] = large["loader"]["rss_mib"] / small["loader"]["rss_mib"]
    ratios["children_rss"] = large["loader"]["children_rss_mib"] / small["loader"]["children_rss_mib"]
    return {"runs": runs, "per_video": per_video, "ratios": ratios}


def format_report(result: dict[str, Any]) -> str:
    """A table of seconds per video and peak RSS per size, then the large/small ratios."""
    runs, ratios = result["runs"], result["ratios"]
    lines = [f"scale: prepare (custom) + shard (wds) + one eval-loader pass; every video a link to {result['clip']}; "
             f"{result['workers']} worker process(es)",
             "| videos | prepare ms/video | shard ms/video | loader ms/video | total ms/video | peak RSS MiB "
             "after prepare / shard / loader | peak child RSS MiB | load avg |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        pv = result["per_video"][r["videos"]]
        lines.append(f"| {r['videos']:,} | " + " | ".join(f"{pv[p] * 1000:.1f}" for p in (*PHASES, "total"))
                     + " | " + " / ".join(f"{r[p]['rss_mib']:,.0f}" for p in PHASES)
                     + f" | {r['loader']['children_rss_mib']:,.0f} | {r['load_average']:.1f} |")
    lines.append(f"{runs[-1]['videos']:,} vs {runs[0]['videos']:,} videos, cost per video: "
                 + ", ".join(f"{p} {ratios[p]:.2f}x" for p in (*PHASES, "total"))
                 + f" (target <= 1.1x); peak RSS {ratios['rss']:.2f}x, children {ratios['children_rss']:.2f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.scale``: run and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 2000], help="numbers of videos, small first")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    print(format_report(run_scale_bench(tuple(args.sizes), args.workers)))


if __name__ == "__main__":
    main()
