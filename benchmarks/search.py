"""Benchmark ``tvrkit search``: query latency of the library's FAISS index, and index build time.

Latency: single-query searches (one text at a time, as the server answers them) over N unit
vectors of D=512 with the index kinds ``tvrkit index`` builds: exact ``flat`` at each size, and
``ivf-pq`` (4-bit fast-scan codes, exact refine of 50 x k candidates) at the largest size with
a sweep of ``nprobe``, each with its recall@10 against the exact top 10. Vectors come in
chunks from a seeded generator, so a million of them are added without a second copy; the
exact index is freed before the IVF one is built. Two libraries are measured for IVF: uniform
random unit vectors (no structure at all: the worst case for any inverted list) and clustered
ones (a mixture of 1,000 directions, like embeddings of real collections). FAISS runs on
one OpenMP thread (``threads``): single queries on a shared 2-core box measured 3.5x slower
with two. Queries are noisy
copies of library vectors (cosine about 0.7 with their source), as a text is near its video.

Build: ``tvrkit index`` on generated synthetic videos with the demo model's architecture,
in seconds per 1,000 videos, with and without the embedding time.

    python -m benchmarks.search                   # 100k and 1M, about 5 minutes on 2 cores
    python -m benchmarks.search --sizes 20000 --videos 8
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

CHUNK = 65_536


@dataclasses.dataclass(frozen=True)
class SearchBenchConfig:
    sizes: tuple[int, ...] = (100_000, 1_000_000)
    dim: int = 512
    latency_queries: int = 100
    recall_queries: int = 200
    nlist: int = 1024
    nprobes: tuple[int, ...] = (16, 64, 256)
    pq_m: int = 64
    refine: int = 50
    train_size: int = 32_768
    videos: int = 40  # index build: synthetic videos (0 skips it)
    model_config: str = "configs/demo.yaml"  # a path: the index config makes it absolute
    threads: int = 1  # FAISS OpenMP threads: one query at a time is faster on one thread of a busy machine
    seed: int = 0


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def vector_chunks(n: int, dim: int, seed: int, clusters: int = 0) -> Iterator[np.ndarray]:
    """``n`` unit vectors in chunks, the same for a seed: uniform, or around ``clusters`` directions."""
    centres = np.random.default_rng([seed, 1]).standard_normal((clusters, dim)) if clusters else None
    for i, start in enumerate(range(0, n, CHUNK)):
        rng = np.random.default_rng([seed, 2, i])
        rows = min(CHUNK, n - start)
        x = rng.standard_normal((rows, dim))
        if centres is not None:  # each vector: its centre plus noise of the same norm scaled by 0.8
            x = centres[rng.integers(0, clusters, rows)] + 0.8 * x
        yield _unit(x)


def _queries(n: int, dim: int, count: int, seed: int, clusters: int) -> np.ndarray:
    """Noisy copies of ``count`` library vectors (regenerated from their chunk, never stored)."""
    rng = np.random.default_rng([seed, 3])
    picked = np.sort(rng.choice(n, size=count, replace=False))
    out = []
    for i, chunk in enumerate(vector_chunks(n, dim, seed, clusters)):
        lo = i * CHUNK
        out.append(chunk[picked[(picked >= lo) & (picked < lo + len(chunk))] - lo])
    base = np.concatenate(out)
    return _unit(base + 1.0 * _unit(rng.standard_normal(base.shape)))  # cos ~ 0.71 with the source


def _add(index: Any, n: int, dim: int, seed: int, clusters: int) -> None:
    for chunk in vector_chunks(n, dim, seed, clusters):
        index.add(chunk)


def _latency(index: Any, queries: np.ndarray, k: int = 10) -> dict[str, float]:
    """p50 / p99 milliseconds of one query per call (after two warm-up calls)."""
    for q in queries[:2]:
        index.search(q[None], k)
    times = []
    for q in queries:
        t0 = time.perf_counter()
        index.search(q[None], k)
        times.append((time.perf_counter() - t0) * 1000)
    return {"p50_ms": float(np.percentile(times, 50)), "p99_ms": float(np.percentile(times, 99))}


def _recall(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / exact.shape[1] for a, b in zip(found, exact, strict=True)]))


def _exact(cfg: SearchBenchConfig, n: int, clusters: int) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Exact search over ``n`` vectors: latency, and the true top 10 of the recall queries."""
    import faiss

    index = faiss.IndexFlatIP(cfg.dim)
    t0 = time.perf_counter()
    _add(index, n, cfg.dim, cfg.seed, clusters)
    build = time.perf_counter() - t0
    queries = _queries(n, cfg.dim, max(cfg.latency_queries, cfg.recall_queries), cfg.seed, clusters)
    row = {"kind": "flat", "n": n, "clusters": clusters, "build_s": build,
           **_latency(index, queries[:cfg.latency_queries])}
    _, truth = index.search(queries[:cfg.recall_queries], 10)
    return row, queries, truth


def _ivf(cfg: SearchBenchConfig, n: int, clusters: int, queries: np.ndarray,
         truth: np.ndarray) -> list[dict[str, Any]]:
    """The library's ivf-pq index over the same vectors (trained on their first chunk), per nprobe."""
    from tvrkit.search.faiss_index import IndexParams, VectorIndex, ivf_pq_index

    params = IndexParams(nlist=cfg.nlist, pq_m=cfg.pq_m, pq_bits=4, refine=cfg.refine, seed=cfg.seed)
    t0 = time.perf_counter()
    index = ivf_pq_index(next(vector_chunks(n, cfg.dim, cfg.seed, clusters)), params)
    _add(index, n, cfg.dim, cfg.seed, clusters)
    build = time.perf_counter() - t0
    rows = []
    for nprobe in cfg.nprobes:
        vi = VectorIndex("ivf-pq", index, dataclasses.replace(params, nprobe=nprobe))
        _, found = vi.search(queries[:cfg.recall_queries], 10)
        rows.append({"kind": "ivf-pq", "n": n, "clusters": clusters, "nprobe": nprobe, "build_s": build,
                     "recall@10": _recall(found, truth), **_latency(vi.index, queries[:cfg.latency_queries])})
    return rows


def _build(cfg: SearchBenchConfig, work: Path) -> dict[str, Any]:
    """``tvrkit index`` over ``cfg.videos`` generated synthetic source videos (the demo model's
    architecture, untrained: the same compute as the trained one)."""
    from tvrkit.datasets.synthetic import RAW_VIDEOS, generate_synthetic
    from tvrkit.search.config import load_index_config
    from tvrkit.search.index import run_index

    generate_synthetic(work / "synthetic", cfg.videos, seed=cfg.seed)
    summary = run_index(load_index_config(base={"videos": str(work / "synthetic" / RAW_VIDEOS),
                                                "out": str(work / "index"), "model_config": cfg.model_config}))
    per = 1000 / summary["videos"]
    return {"videos": summary["videos"], "seconds": summary["seconds"], "embed_seconds": summary["embed_seconds"],
            "faiss_seconds": summary["index_seconds"], "per_1000_s": summary["seconds"] * per,
            "per_1000_without_embedding_s": (summary["seconds"] - summary["embed_seconds"]) * per}


def run_search_bench(cfg: SearchBenchConfig, on_row: Callable[[dict[str, Any]], Any] | None = None) -> dict[str, Any]:
    """Every latency row (flat at each size; ivf-pq per nprobe at the largest, uniform and
    clustered; each passed to ``on_row`` as soon as it is measured) and the index build figures."""
    import faiss

    faiss.omp_set_num_threads(cfg.threads)
    rows: list[dict[str, Any]] = []

    def add(new: list[dict[str, Any]]) -> None:
        rows.extend(new)
        for row in new:
            if on_row is not None:
                on_row(row)

    largest = max(cfg.sizes)
    for n in sorted(cfg.sizes):
        row, queries, truth = _exact(cfg, n, clusters=0)
        add([row])
        if n == largest:
            add(_ivf(cfg, n, 0, queries, truth))
            del queries, truth
            row, queries, truth = _exact(cfg, n, clusters=1000)
            add([row])
            add(_ivf(cfg, n, 1000, queries, truth))
    result: dict[str, Any] = {"config": dataclasses.asdict(cfg), "rows": rows}
    if cfg.videos:
        with tempfile.TemporaryDirectory(prefix="tvrkit-bench-search-") as work:
            result["build"] = _build(cfg, Path(work))
    return result


def _label(row: dict[str, Any]) -> str:
    data = f"{row['clusters']:,} clusters" if row["clusters"] else "uniform"
    kind = f"ivf-pq nprobe {row['nprobe']}" if row["kind"] == "ivf-pq" else "exact flat"
    return f"{kind}, {row['n']:,} x {data}"


def format_report(result: dict[str, Any]) -> str:
    lines = [f"{'index':<44} {'p50 ms':>8} {'p99 ms':>8} {'recall@10':>10} {'build s':>8}"]
    for row in result["rows"]:
        recall = f"{row['recall@10']:.3f}" if "recall@10" in row else "1 (exact)"
        lines.append(f"{_label(row):<44} {row['p50_ms']:8.2f} {row['p99_ms']:8.2f} {recall:>10} {row['build_s']:8.1f}")
    build = result.get("build")
    if build:
        lines.append(f"tvrkit index, {build['videos']} synthetic videos: {build['seconds']:.1f} s "
                     f"({build['embed_seconds']:.1f} s embedding, {build['faiss_seconds']:.2f} s FAISS) = "
                     f"{build['per_1000_s']:.0f} s per 1,000 videos, "
                     f"{build['per_1000_without_embedding_s']:.0f} s without embedding")
    return "\n".join(lines)


def summary_rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Rows of ``bench/results.md``: each latency against its goal, the build time per 1,000 videos."""
    rows = []
    exact = {r["n"]: r for r in result["rows"] if r["kind"] == "flat" and not r["clusters"]}
    for n, r in sorted(exact.items()):
        goal = " (goal <= 20 ms at 100k)" if n == 100_000 else ""
        rows.append((f"search exact, {n:,} x 512", f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms",
                     "-", f"p50 {r['p50_ms']:.1f} ms{goal}"))
    for r in result["rows"]:
        if r["kind"] != "ivf-pq":
            continue
        base = next(e for e in result["rows"] if e["kind"] == "flat" and e["n"] == r["n"]
                    and e["clusters"] == r["clusters"])
        rows.append((f"search {_label(r)}", f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
                     f"recall@10 {r['recall@10']:.3f}", f"exact: p50 {base['p50_ms']:.1f} ms",
                     f"{base['p50_ms'] / r['p50_ms']:.1f}x faster (goal p50 <= 50 ms, recall@10 >= 0.95)"))
    build = result.get("build")
    if build:
        rows.append((f"tvrkit index, {build['videos']} videos (demo model)",
                     f"{build['per_1000_s']:.0f} s per 1,000 videos",
                     f"without embedding: {build['per_1000_without_embedding_s']:.0f} s per 1,000",
                     f"embedding {build['embed_seconds'] / build['seconds']:.0%} of the time"))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SearchBenchConfig.sizes))
    parser.add_argument("--videos", type=int, default=SearchBenchConfig.videos, help="0 skips the build figure")
    parser.add_argument("--nlist", type=int, default=SearchBenchConfig.nlist)
    parser.add_argument("--json", dest="json_path", help="also write the results here")
    from tvrkit.fsutil import write_json_atomic

    args = parser.parse_args(argv)
    result = run_search_bench(SearchBenchConfig(sizes=tuple(args.sizes), videos=args.videos, nlist=args.nlist),
                              on_row=lambda row: print(json.dumps(row), flush=True))
    print(format_report(result))
    if args.json_path:
        write_json_atomic(args.json_path, result)


if __name__ == "__main__":
    main()
