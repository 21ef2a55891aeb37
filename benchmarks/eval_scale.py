"""Benchmark the global ranking at scale: Q text queries against N video embeddings
(default 10,000 x 1,000,000, D = 512) scored in blocks with a streaming top-10 and exact
rank counts (:func:`tvrkit.retrieval.ranking.stream_rank`), next to its floor measured in the
same process, the fp32 matrix product alone over the same blocks, and next to the dense
baseline (the whole Q x N score matrix, then counting) at a size that fits.

The gallery is generated on the fly, block by block from per-block seeds, so neither the
gallery nor the score matrix is ever whole in memory; queries are noisy copies of their
correct videos, so the ranks are neither all 1 nor random. Generating the blocks is timed
and taken out of both the ranking and the product. Each measurement runs in a fresh
process, so the peak RSS it reports is its own.

    python -m benchmarks.eval_scale --videos 1000000 --queries 10000 --dim 512 --dtype float16
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import os
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

DTYPES = ("float16", "float32")


@dataclass(frozen=True)
class Case:
    """One synthetic ranking problem; the same seed gives the same embeddings in any process."""

    videos: int
    queries: int
    dim: int
    dtype: str
    block: int
    noise: float = 4.0  # |noise| / |video|: the correct video's cosine is about 1 / sqrt(1 + noise^2)
    seed: int = 0


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _cpu_seconds() -> float:
    """CPU time of this process: unlike wall time, barely inflated when other jobs share the cores."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _problem(case: Case) -> tuple[Any, Any, Any, Any]:
    """(queries [Q, D] float32, targets [Q], target rows [Q, D] in the gallery dtype, owner [N])."""
    import torch

    gen = torch.Generator().manual_seed(case.seed)
    targets = torch.randperm(case.videos, generator=gen)[: case.queries]
    rows = torch.nn.functional.normalize(torch.randn(case.queries, case.dim, generator=gen), dim=1)
    noise = torch.randn(case.queries, case.dim, generator=gen) * (case.noise / case.dim**0.5)
    queries = torch.nn.functional.normalize(rows + noise, dim=1)
    owner = torch.full((case.videos,), -1, dtype=torch.int64)
    owner[targets] = torch.arange(case.queries)
    return queries, targets, rows.to(getattr(torch, case.dtype)), owner


def _blocks(case: Case, target_rows: Any, owner: Any) -> Any:
    """Gallery blocks in row order: random unit vectors, with each query's correct video in place."""
    import torch

    for b, start in enumerate(range(0, case.videos, case.block)):
        n = min(case.block, case.videos - start)
        gen = torch.Generator().manual_seed(case.seed * 1_000_003 + b + 1)
        block = torch.nn.functional.normalize(torch.randn(n, case.dim, generator=gen), dim=1)
        block = block.to(getattr(torch, case.dtype))
        mine = owner[start : start + n]
        placed = mine >= 0
        block[placed] = target_rows[mine[placed]]
        yield block


class _TimedBlocks:
    """The gallery blocks of ``case``, timing how long producing them takes, so that the
    generation cost can be taken out of whatever consumes them."""

    def __init__(self, case: Case, target_rows: Any, owner: Any) -> None:
        self.case, self.target_rows, self.owner = case, target_rows, owner
        self.seconds = self.cpu_seconds = 0.0

    def __iter__(self) -> Any:
        blocks = _blocks(self.case, self.target_rows, self.owner)
        while True:
            started, cpu = time.perf_counter(), _cpu_seconds()
            block = next(blocks, None)
            self.seconds += time.perf_counter() - started
            self.cpu_seconds += _cpu_seconds() - cpu
            if block is None:
                return
            yield block


def _product(queries: Any, blocks: _TimedBlocks) -> tuple[float, float]:
    """The floor, (wall, CPU) seconds: only the fp32 products of the same blocks, into one
    reused buffer, on the same threads."""
    import torch

    started, cpu, buffer = time.perf_counter(), _cpu_seconds(), torch.empty(0)
    for block in blocks:
        g = block.float()
        if buffer.shape != (queries.shape[0], g.shape[0]):
            buffer = torch.empty((queries.shape[0], g.shape[0]))
        torch.mm(queries, g.T, out=buffer)
    return time.perf_counter() - started - blocks.seconds, _cpu_seconds() - cpu - blocks.cpu_seconds


def _measure_stream(case: Case, with_product: bool = True) -> dict[str, Any]:
    import torch

    from tvrkit.retrieval.metrics import summarize
    from tvrkit.retrieval.ranking import stream_rank

    rss_start = _peak_rss_mib()
    queries, targets, target_rows, owner = _problem(case)
    before = _product(queries, _TimedBlocks(case, target_rows, owner)) if with_product else (0.0, 0.0)
    blocks = _TimedBlocks(case, target_rows, owner)
    cpu = _cpu_seconds()
    result = stream_rank(queries, blocks, k=10, targets=targets, target_rows=target_rows)
    assert result.n_gallery == case.videos
    ranking_cpu = _cpu_seconds() - cpu - blocks.cpu_seconds
    # the floor is measured before and after the ranking and averaged, so load that drifts
    # during the run weighs on both sides alike
    after = _product(queries, _TimedBlocks(case, target_rows, owner)) if with_product else (0.0, 0.0)
    product = [(b + a) / 2 if with_product else None for b, a in zip(before, after, strict=True)]
    return {
        "mode": "stream",
        "seconds": result.seconds - blocks.seconds,
        "cpu_seconds": ranking_cpu,
        "generation_seconds": blocks.seconds,
        "product_seconds": product[0],
        "product_cpu_seconds": product[1],
        "product_runs_seconds": [before[0], after[0]] if with_product else None,
        "peak_rss_mib": _peak_rss_mib(),
        "rss_after_import_mib": rss_start,
        "metrics": summarize(result.counts),
        "threads": torch.get_num_threads(),
        "load_average": os.getloadavg()[0],
    }


def _measure_dense(case: Case) -> dict[str, Any]:
    import torch

    from tvrkit.retrieval.metrics import rank_counts, summarize

    rss_start = _peak_rss_mib()
    queries, targets, target_rows, owner = _problem(case)
    gallery = torch.cat(list(_blocks(case, target_rows, owner)))
    started, cpu = time.perf_counter(), _cpu_seconds()
    sim = queries @ gallery.float().T  # the whole Q x N matrix
    torch.topk(sim, 10, dim=1)
    counts = rank_counts(sim.numpy(), targets.numpy())
    return {
        "mode": "dense",
        "seconds": time.perf_counter() - started,
        "cpu_seconds": _cpu_seconds() - cpu,
        "peak_rss_mib": _peak_rss_mib(),
        "rss_after_import_mib": rss_start,
        "metrics": summarize(counts),
        "threads": torch.get_num_threads(),
    }


def _in_fresh_process(fn: Any, case: Case) -> dict[str, Any]:
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return {**pool.submit(fn, case).result(), **asdict(case)}


def run_benchmark(
    videos: int = 1_000_000, queries: int = 10_000, dim: int = 512, dtype: str = "float16", dense_videos: int = 50_000
) -> list[dict[str, Any]]:
    """Stream (with its product floor) at full size, then stream and dense at ``dense_videos``;
    one dict per run."""
    from tvrkit.retrieval.ranking import block_size_for

    block = block_size_for(queries)
    full = Case(videos, queries, dim, dtype, block)
    small = Case(min(dense_videos, videos), queries, dim, dtype, block)
    stream_only = functools.partial(_measure_stream, with_product=False)
    return [_in_fresh_process(_measure_stream, full), _in_fresh_process(stream_only, small),
            _in_fresh_process(_measure_dense, small)]  # fmt: skip


def report(runs: list[dict[str, Any]]) -> str:
    """A markdown table of the runs, the stream/dense ratios and the dense extrapolation."""
    lines = [
        "| mode | videos | queries | dim | dtype | wall s | CPU s | peak RSS MiB | R@1 | MnR |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        lines.append(
            f"| {r['mode']} | {r['videos']:,} | {r['queries']:,} | {r['dim']} | {r['dtype']} | {r['seconds']:.1f} "
            f"| {r['cpu_seconds']:.1f} | {r['peak_rss_mib']:,.0f} | {r['metrics']['R@1']:.2f} "
            f"| {r['metrics']['MnR']:.1f} |"
        )
    full, stream, dense = runs
    scores = full["videos"] * full["queries"]
    lines += [
        "",
        f"stream at {full['videos']:,} videos: {full['seconds']:.1f} s ranking (top-10 and exact ranks; "
        f"generating the embeddings, {full['generation_seconds']:.1f} s, excluded), "
        f"{scores / full['seconds'] / 1e6:,.0f} M scores/s on {full['threads']} threads "
        f"({full['cpu_seconds']:.1f} CPU s; load average then {full['load_average']:.1f}), "
        f"peak RSS {full['peak_rss_mib']:,.0f} MiB (after imports: {full['rss_after_import_mib']:,.0f} MiB)",
        f"floor, the fp32 matrix product alone over the same blocks in the same process: "
        f"{full['product_seconds']:.1f} s ({full['product_cpu_seconds']:.1f} CPU s; the mean of a pass before "
        f"the ranking, {full['product_runs_seconds'][0]:.1f} s, and one after, {full['product_runs_seconds'][1]:.1f} s)"
        f"; ranking / product: "
        f"{full['seconds'] / full['product_seconds']:.2f}x wall, "
        f"{full['cpu_seconds'] / full['product_cpu_seconds']:.2f}x CPU (target <= 1.5x)",
        f"at {dense['videos']:,} videos, stream / dense: time {stream['seconds'] / dense['seconds']:.2f}x, "
        f"peak RSS {stream['peak_rss_mib'] / dense['peak_rss_mib']:.2f}x; same metrics: "
        f"{stream['metrics'] == dense['metrics']}",
        f"dense at {full['videos']:,} videos (extrapolated, not run): the float32 score matrix alone is "
        f"{scores * 4 / 2**30:,.1f} GiB",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=1_000_000, help="gallery size of the streamed run")
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--dtype", choices=DTYPES, default="float16", help="storage dtype of the embeddings")
    parser.add_argument("--dense-videos", type=int, default=50_000, help="gallery size of the dense baseline")
    args = parser.parse_args(argv)
    runs = run_benchmark(args.videos, args.queries, args.dim, args.dtype, args.dense_videos)
    print(report(runs))


if __name__ == "__main__":
    main()
