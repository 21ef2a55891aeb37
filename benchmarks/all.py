"""``make bench``: run every stage benchmark and write ``bench/results.md``.

Each stage's figure is printed next to a floor or baseline measured in the same run on
the same cores (these machines are noisy: only same-run ratios mean something). The
per-stage benchmarks live in their own modules; this one only chains them, builds the
small synthetic dataset the loader and trainer benchmarks read, and tabulates.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

Row = tuple[str, str, str, str]  # stage, figure, floor or baseline, ratio


@dataclasses.dataclass(frozen=True)
class Sizes:
    """Problem sizes; ``quick`` shrinks them for a smoke run (figures then mean little)."""

    compress_videos: int
    dataset_videos: int
    eval_videos: int
    eval_dense_videos: int
    c2f_videos: int
    train_steps: int
    decoder_opens: int = 2000  # opens per raw-video decoder (memory growth shows over thousands)
    scale_sizes: tuple[int, ...] = (200, 2000)  # videos through prepare + shard + loader, small first
    search_vectors: tuple[int, ...] = (100_000, 1_000_000)  # library sizes of the search latency rows
    search_videos: int = 40  # videos `tvrkit index` builds from for the build-time row

    @classmethod
    def pick(cls, quick: bool) -> Sizes:
        if quick:
            return cls(4, 24, 100_000, 20_000, 1_000, 10, decoder_opens=100, scale_sizes=(20, 60),
                       search_vectors=(20_000, 70_000), search_videos=6)
        return cls(16, 80, 1_000_000, 50_000, 10_000, 30)


def _dataset(root: Path, n_videos: int) -> None:
    """Synthetic videos, compressed and sharded in both formats (kept between runs)."""
    from tvrkit.config import load_config
    from tvrkit.prepare import PrepareConfig, run_prepare
    from tvrkit.shards.config import ShardConfig
    from tvrkit.shards.stage import run_shard

    base = {"dataset": "synthetic", "root": str(root), "videos": n_videos, "seed": 0}
    run_prepare(load_config("prepare", PrepareConfig, base=base))
    for fmt in ("wds", "lmdb"):
        run_shard(load_config("shard", ShardConfig, base={"root": str(root), "format": fmt}))


def _compress(sizes: Sizes, _root: Path) -> tuple[list[Row], str]:
    from benchmarks.compress import CompressBenchConfig, format_report, run_compress_bench

    r = run_compress_bench(CompressBenchConfig(videos=sizes.compress_videos))
    row = ("compress (prepare)", f"{r['compress_seconds']:.2f} s wall / {r['compress_cpu_seconds']:.2f} s CPU",
           f"`ffmpeg -i IN -f null -`: {r['floor_seconds']:.2f} s / {r['floor_cpu_seconds']:.2f} s",
           f"{r['ratio']:.2f}x wall, {r['cpu_ratio']:.2f}x CPU (target <= 1.15x)")
    return [row], format_report(r)


def _scale(sizes: Sizes, _root: Path) -> tuple[list[Row], str]:
    from benchmarks.scale import format_report, run_scale_bench

    r = run_scale_bench(sizes.scale_sizes)
    small, large = sizes.scale_sizes[0], sizes.scale_sizes[-1]
    pv, ratios = r["per_video"], r["ratios"]
    peak = {run["videos"]: run["loader"]["rss_mib"] for run in r["runs"]}
    row = (f"scale: prepare + shard + loader, {large:,} videos",
           f"{pv[large]['total'] * 1000:.0f} ms/video, peak RSS {peak[large]:,.0f} MiB",
           f"{small:,} videos: {pv[small]['total'] * 1000:.0f} ms/video, {peak[small]:,.0f} MiB",
           f"{ratios['total']:.2f}x cost per video (target <= 1.1x), {ratios['rss']:.2f}x peak RSS")
    return [row], format_report(r)


def _loader(_sizes: Sizes, root: Path) -> tuple[list[Row], str]:
    from benchmarks.datapath import loader_stage

    return loader_stage(root)


def _decoders(sizes: Sizes, root: Path) -> tuple[list[Row], str]:
    from benchmarks.datapath import decoder_stage

    return decoder_stage(root, sizes.decoder_opens)


def _shard_options(_sizes: Sizes, root: Path) -> tuple[list[Row], str]:
    from benchmarks.datapath import shard_options_stage

    return shard_options_stage(root)


def _model(_sizes: Sizes, _root: Path) -> tuple[list[Row], str]:
    from benchmarks.model import BASELINE, ModelBenchConfig, format_report, run_model_bench

    r = run_model_bench(ModelBenchConfig(archs=("tiny",), threads=1))
    base = next(row for row in r["rows"] if row["method"] == BASELINE)["samples_per_s"]
    rows = [(f"model fwd+bwd tiny, {row['method']}", f"{row['samples_per_s']:.1f} samples/s",
             f"{BASELINE}: {base:.1f} samples/s", f"{row['samples_per_s'] / base:.2f}x")
            for row in r["rows"] if row["method"] != BASELINE]
    return rows, format_report(r)


def _train(sizes: Sizes, root: Path) -> tuple[list[Row], str]:
    from tvrkit.probe.train import TrainBenchConfig, format_report, run_train_bench

    r = run_train_bench(TrainBenchConfig(overrides=(f"data.root={root}",), steps=sizes.train_steps))
    rows = [(f"train demo config, {fmt}", f"{rate['samples_per_s']:.1f} samples/s",
             "step time (compute + data wait)", f"{rate['data_wait']:.1%} of step time waiting for data")
            for fmt, rate in r["rates"].items()]
    return rows, format_report(r)


def _streaming(sizes: Sizes, root: Path) -> tuple[list[Row], str]:
    from benchmarks.streaming import StreamBenchConfig, format_report, run_stream_bench

    r = run_stream_bench(StreamBenchConfig(root=str(root), steps=sizes.train_steps))
    http, local = r["train"]["http 127.0.0.1"], r["train"]["local"]
    row = ("train demo config, wds streamed from http.server on 127.0.0.1", f"{http['samples_per_s']:.1f} samples/s",
           f"local root: {local['samples_per_s']:.1f} samples/s", f"{r['ratio']:.2f}x (target >= 0.8x)")
    return [row], format_report(r)


def _eval_scale(sizes: Sizes, _root: Path) -> tuple[list[Row], str]:
    from benchmarks.eval_scale import report, run_benchmark

    full, stream, dense = run_benchmark(videos=sizes.eval_videos, dense_videos=sizes.eval_dense_videos)
    row = (f"global ranking {full['videos']:,} x {full['queries']:,}",
           f"{full['seconds']:.0f} s (top-10 + exact ranks), peak RSS {full['peak_rss_mib']:,.0f} MiB",
           f"fp32 product alone: {full['product_seconds']:.0f} s; dense at {dense['videos']:,}: "
           f"{dense['peak_rss_mib']:,.0f} MiB",
           f"{full['seconds'] / full['product_seconds']:.2f}x product wall, "
           f"{full['cpu_seconds'] / full['product_cpu_seconds']:.2f}x CPU (target <= 1.5x); stream/dense memory "
           f"at {dense['videos']:,}: {stream['peak_rss_mib'] / dense['peak_rss_mib']:.2f}x")
    return [row], report([full, stream, dense])


def _coarse_fine(sizes: Sizes, _root: Path) -> tuple[list[Row], str]:
    from benchmarks.coarse_fine import Case, report, run_benchmark

    r = run_benchmark(Case(videos=sizes.c2f_videos, texts=sizes.c2f_videos))
    row = _two_stage_row("coarse-to-fine", sizes.c2f_videos, r["runs"]["coarse-to-fine"], "full fine scoring",
                         r["runs"]["full fine"])
    return [row], report(r)


def _eercf(sizes: Sizes, _root: Path) -> tuple[list[Row], str]:
    from benchmarks.eercf import Case, report, run_benchmark

    r = run_benchmark(Case(videos=sizes.c2f_videos, texts=sizes.c2f_videos // 10))
    row = _two_stage_row("EERCF two-stage", sizes.c2f_videos, r["runs"]["two-stage"], "every pair by total",
                         r["runs"]["every pair by total"])
    return [row], report(r)


def _two_stage_row(name: str, videos: int, fast: dict[str, Any], full_label: str, full: dict[str, Any]) -> Row:
    """A re-ranked run against scoring every pair: both times, the speed-up and the R@1 difference."""
    gain = fast["metrics"]["R@1"] - full["metrics"]["R@1"]
    speed = full["seconds"] / fast["seconds"]
    return (f"{name} K={fast['k']}, {videos:,} videos", f"{fast['seconds']:.1f} s",
            f"{full_label}: {full['seconds']:.1f} s", f"{speed:.1f}x faster; R@1 {gain:+.2f}")


def _search(sizes: Sizes, _root: Path) -> tuple[list[Row], str]:
    from benchmarks.search import SearchBenchConfig, format_report, run_search_bench, summary_rows

    r = run_search_bench(SearchBenchConfig(sizes=sizes.search_vectors, videos=sizes.search_videos))
    return summary_rows(r), format_report(r)


STAGES: dict[str, Callable[[Sizes, Path], tuple[list[Row], str]]] = {
    "compress": _compress, "scale": _scale, "loader": _loader, "decoders": _decoders, "shard_options": _shard_options,
    "model": _model, "train": _train, "streaming": _streaming,
    "eval_scale": _eval_scale, "coarse_fine": _coarse_fine, "eercf": _eercf, "search": _search,
}
NEEDS_DATA = {"loader", "decoders", "shard_options", "train", "streaming"}


def render(rows: list[Row], sections: dict[str, str], seconds: float) -> str:
    """The results page: one summary table, then each benchmark's own report."""
    lines = ["# tvrkit benchmark results", "",
             f"`make bench` on {platform.machine()} with {os.cpu_count()} cores, {seconds / 60:.1f} min in all. "
             "Every ratio compares two figures measured in the same run.", "",
             "| stage | figure | floor / baseline (same run) | ratio |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    for name, text in sections.items():
        lines += ["", f"## {name}", "", "```", text, "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Run the chosen benchmarks (default all) and write the markdown report."""
    from tvrkit.fsutil import write_text_atomic

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/results.md")
    parser.add_argument("--data", default="bench/out/synthetic", help="synthetic dataset root (reused)")
    parser.add_argument("--only", nargs="+", choices=list(STAGES), default=list(STAGES))
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not figures to quote")
    parser.add_argument("--scale-sizes", type=int, nargs="+", help="videos of the scale stage (default 200 2000)")
    args = parser.parse_args(argv)
    sizes, root, started = Sizes.pick(args.quick), Path(args.data), time.perf_counter()
    if args.scale_sizes:
        sizes = dataclasses.replace(sizes, scale_sizes=tuple(args.scale_sizes))
    if NEEDS_DATA & set(args.only):
        _dataset(root, sizes.dataset_videos)
    rows: list[Row] = []
    sections: dict[str, str] = {}
    failed = []
    for name in args.only:
        print(f"== bench {name}", flush=True)
        try:
            stage_rows, sections[name] = STAGES[name](sizes, root)
        except Exception as exc:  # a broken stage is reported; the other stages still run and are written
            traceback.print_exc()
            stage_rows, sections[name] = [], f"failed: {type(exc).__name__}: {exc}"
            failed.append(name)
        rows += stage_rows
        print(sections[name], flush=True)
        # the page so far after every stage: a long run that is stopped keeps what it measured
        write_text_atomic(args.out, render(rows, sections, time.perf_counter() - started))
    print(f"wrote {args.out}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
