"""Benchmark coarse-to-fine retrieval (EERCF) against full fine-grained scoring.

A tiny random DRL model (tvrkit-tiny, width 64; its fine score is token-wise) scores generated
features: each video has T unit frame vectors, each text is a noisy view of its video (sentence:
the mean frame plus noise; words: some of its frames plus noise), so rankings are neither
trivial nor random. The features are written to feature stores on disk exactly as ``tvrkit
eval`` caches them, then each ranking runs in a fresh process that memory-maps the stores and
calls :func:`tvrkit.retrieval.scorer.rank_t2v`, as eval does: once re-scoring each text's global
top K with the fine levels, once with the fine levels scoring every (text, video) pair. Each
reports its wall and CPU time and its own peak RSS; the global-only ranking comes for free.

    python -m benchmarks.coarse_fine --videos 10000 --texts 10000 --k 50
    python -m benchmarks.coarse_fine --videos 1000000 --texts 10000 --k 50 --skip-full
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

METHOD = "drl"  # a published method whose score needs a fine pass: words against frames
CHUNK = 50_000  # videos generated and written per step: bounds the generator's memory


@dataclasses.dataclass(frozen=True)
class Case:
    videos: int = 10_000
    texts: int = 10_000
    k: int = 50
    frames: int = 12
    words: int = 32
    # norm of the noise on a text's sentence vector (its video's is 1): 2.0 gives the global level R@1 47 and
    # R@10 77 at 10,000 videos, about CLIP4Clip meanP's global stage on MSR-VTT 1k-A (R@1 43, R@10 81), the kind
    # of first stage a fine method re-ranks in practice (3.0 gave R@1 10, R@50 50: most texts' videos never
    # reached the fine stage)
    sentence_noise: float = 2.0
    word_noise: float = 2.0  # norm of the noise on each word (a copy of one of its video's frames)
    rerank_pairs: int = 1 << 20
    threads: int = 1  # torch intra-op threads; 1 keeps timings stable on a shared machine
    skip_full: bool = False  # full fine scoring is O(texts x videos): skip it at a million videos
    seed: int = 0


def _model(case: Case) -> Any:
    """The same random weights in every process (seeded)."""
    import torch

    from tvrkit.models import build_model, load_model_config

    torch.manual_seed(case.seed)
    return build_model(load_model_config(base={"method": METHOD, "backbone": {"arch": "tvrkit-tiny"}})).eval()


def _write_problem(case: Case, directory: Path) -> None:
    """Video and text feature stores (with global embeddings) for ``case``, written in chunks."""
    import torch
    import torch.nn.functional as F

    from tvrkit.models.features import TextFeatures, VideoFeatures
    from tvrkit.retrieval.embed import GLOBAL
    from tvrkit.retrieval.store import StoreWriter

    torch.set_num_threads(case.threads)
    model = _model(case)
    dim = model.embed_dim
    g = torch.Generator().manual_seed(case.seed + 1)
    targets = torch.randperm(case.videos, generator=g)[: case.texts]
    kept_frames = torch.empty(case.texts, case.frames, dim)
    kept_lengths = torch.empty(case.texts, dtype=torch.int64)
    videos = StoreWriter(directory / "videos")
    for start in range(0, case.videos, CHUNK):
        n = min(CHUNK, case.videos - start)
        frames = F.normalize(torch.randn(n, case.frames, dim, generator=g), dim=-1)
        lengths = torch.randint(case.frames // 2, case.frames + 1, (n,), generator=g)
        feats = VideoFeatures(frames, torch.arange(case.frames)[None, :] < lengths[:, None])
        mine = ((targets >= start) & (targets < start + n)).nonzero().squeeze(1)
        kept_frames[mine], kept_lengths[mine] = frames[targets[mine] - start], lengths[targets[mine] - start]
        with torch.inference_mode():
            arrays = {**feats.state(), GLOBAL: model.global_embeddings(feats)}
        videos.append([f"v{start + i}" for i in range(n)], arrays)
    videos.close()
    picks = torch.randint(0, case.frames, (case.texts, case.words), generator=g) % kept_lengths[:, None]
    words = kept_frames[torch.arange(case.texts)[:, None], picks]
    words = words + torch.randn(words.shape, generator=g) * (case.word_noise / dim**0.5)
    valid = torch.arange(case.frames)[None, :] < kept_lengths[:, None]
    mean = F.normalize((kept_frames * valid[..., None]).sum(1), dim=-1)
    sentence = mean + torch.randn(case.texts, dim, generator=g) * (case.sentence_noise / dim**0.5)
    word_mask = torch.arange(case.words)[None, :] < torch.randint(4, case.words + 1, (case.texts, 1), generator=g)
    text = TextFeatures(sentence, words, word_mask)
    texts = StoreWriter(directory / "texts")
    with torch.inference_mode():
        texts.append([f"t{i}" for i in range(case.texts)], {**text.state(), GLOBAL: model.global_embeddings(text)})
    texts.close({"caption_video_ids": [f"v{t}" for t in targets.tolist()]})


def _measure(case: Any, directory: Path, k: int | None, build: Any = None) -> dict[str, Any]:
    """One ranking in this (fresh) process: rank_t2v over the memory-mapped stores, with the
    model ``build(case)`` makes (default: this benchmark's; ``case`` needs ``threads``, ``rerank_pairs``)."""
    import torch

    from tvrkit.retrieval.embed import Embedded
    from tvrkit.retrieval.metrics import hit_probability, summarize
    from tvrkit.retrieval.scorer import model_scorer, rank_t2v
    from tvrkit.retrieval.store import FeatureStore

    torch.set_num_threads(case.threads)
    model = (build or _model)(case)
    texts, videos = FeatureStore(directory / "texts"), FeatureStore(directory / "videos")
    embedded = Embedded(texts, videos, texts.ids, texts.extra["caption_video_ids"], texts.ids, videos.ids, [],
                        0.0, True)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started, cpu = time.perf_counter(), time.process_time()
    result = rank_t2v(embedded, model_scorer(model, embedded, embedded, "t2v", "cpu"), k, case.rerank_pairs)
    return {"seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu,
            "global_seconds": result.coarse_seconds, "fine_seconds": result.fine_seconds, "k": result.k,
            "metrics": summarize(result.ranks.counts), "global_metrics": summarize(result.coarse_counts),
            # the most re-ranking can reach: texts whose video is in the global top K
            "ceiling": 100.0 * float(hit_probability(result.coarse_counts, result.k).mean()),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rss_before_mib": rss_before}


def _fresh(fn: Any, *args: Any) -> Any:
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def run_benchmark(case: Case) -> dict[str, Any]:
    """Generate the problem once, then time coarse-to-fine and (unless skipped) full fine scoring."""
    with tempfile.TemporaryDirectory(prefix="tvrkit-bench-c2f-") as tmp:
        started = time.perf_counter()
        _fresh(_write_problem, case, Path(tmp))
        generation = time.perf_counter() - started
        runs = {"coarse-to-fine": _fresh(_measure, case, Path(tmp), case.k)}
        if not case.skip_full:
            runs["full fine"] = _fresh(_measure, case, Path(tmp), None)
    return {"case": dataclasses.asdict(case), "generation_seconds": generation, "runs": runs}


def ranking_table(runs: dict[str, Any], coarse: dict[str, Any], coarse_label: str) -> list[str]:
    """Markdown table: each ranking's K, wall/CPU time, peak RSS and recall, then the coarse ranking
    of run ``coarse`` alone (its ``global_metrics``) as ``coarse_label``."""
    lines = ["| ranking | K | wall s (global + fine) | CPU s | peak RSS MiB | R@1 | R@5 | R@10 | MnR |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, run in runs.items():
        m = run["metrics"]
        lines.append(f"| {name} | {run['k']:,} | {run['seconds']:.1f} ({run['global_seconds']:.1f} + "
                     f"{run['fine_seconds']:.1f}) | {run['cpu_seconds']:.1f} | {run['peak_rss_mib']:,.0f} | "
                     f"{m['R@1']:.2f} | {m['R@5']:.2f} | {m['R@10']:.2f} | {m['MnR']:.1f} |")
    m = coarse["global_metrics"]
    lines.append(f"| {coarse_label} | - | - | - | - | {m['R@1']:.2f} | {m['R@5']:.2f} | {m['R@10']:.2f} | "
                 f"{m['MnR']:.1f} |")
    return lines


def comparison(fast: dict[str, Any], full: dict[str, Any], fast_name: str, full_name: str) -> str:
    """One line: how much less time the re-ranking run ``fast`` took than ``full``, and its R@1 difference."""
    return (f"{fast_name} (K = {fast['k']}) vs {full_name}: {full['seconds'] / fast['seconds']:.1f}x less wall time, "
            f"{full['cpu_seconds'] / fast['cpu_seconds']:.1f}x less CPU time; R@1 difference "
            f"({fast_name} - {full_name}) = {fast['metrics']['R@1'] - full['metrics']['R@1']:+.2f} points; "
            f"{fast['ceiling']:.2f} % of texts have their video in the global top {fast['k']} (the most re-ranking "
            "can reach)")


def report(result: dict[str, Any]) -> str:
    """Markdown: one row per ranking (plus the global level alone), then speed-up and R@1 difference."""
    case, runs = result["case"], result["runs"]
    lines = [f"{case['texts']:,} texts x {case['videos']:,} videos (T = {case['frames']}, L = {case['words']}), "
             f"{METHOD}'s levels on tvrkit-tiny, {case['threads']} thread(s); "
             f"features generated in {result['generation_seconds']:.0f} s", ""]
    lines += ranking_table(runs, runs["coarse-to-fine"], "global level only")
    if "full fine" in runs:
        lines += ["", comparison(runs["coarse-to-fine"], runs["full fine"], "coarse-to-fine", "full fine scoring")]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for field in dataclasses.fields(Case):
        flag = f"--{field.name.replace('_', '-')}"
        if field.type in (bool, "bool"):
            parser.add_argument(flag, action="store_true")
        else:
            parser.add_argument(flag, type=type(field.default), default=field.default)
    print(report(run_benchmark(Case(**vars(parser.parse_args(argv))))))


if __name__ == "__main__":
    main()
