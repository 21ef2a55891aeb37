"""Benchmark EERCF's two-stage evaluation against scoring every pair with its second-stage score.

A tiny random EERCF model (``model.method: eercf`` on tvrkit-tiny, seqTransf; its projection ``W``
and frame matrix at their identity initialisation, so every score is a fixed similarity of the
features) scores generated features, stored exactly as ``tvrkit eval`` caches them: each video has
T unit CLIP frame vectors (T/2..T of them real), P patches per frame (the frame plus noise) and the
model's temporal output of its frames; each text is a noisy view of its video (the unit mean of its
frames plus noise), so rankings are neither trivial nor random. Then, each in a fresh process over
the memory-mapped stores, eval's ``rank_t2v`` ranks the gallery by ``coarse`` and re-ranks each
text's top K by ``total`` (EERCF's evaluation, K = 50), and once more with K = the whole gallery
(every pair scored by ``total``: the ranking EERCF's second stage approximates).

    python -m benchmarks.eercf --videos 10000 --texts 1000 --k 50
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.coarse_fine import _fresh, _measure, comparison, ranking_table

CHUNK = 2_000  # videos generated and written per step: bounds the generator's memory


@dataclasses.dataclass(frozen=True)
class Case:
    videos: int = 10_000
    texts: int = 1_000
    k: int = 50
    frames: int = 12
    patches: int = 16  # tvrkit-tiny: 32 px frames in 8 px patches
    sentence_noise: float = 1.5  # norm of the noise on a text's sentence vector (its video's mean is 1)
    patch_noise: float = 1.0  # norm of the noise on each patch (a copy of its unit frame)
    rerank_pairs: int = 1 << 20
    threads: int = 1  # torch intra-op threads; 1 keeps timings stable on a shared machine
    seed: int = 0


def build(case: Case) -> Any:
    """The same random EERCF model in every process (seeded)."""
    import torch

    from tvrkit.models import build_model, load_model_config

    torch.manual_seed(case.seed)
    cfg = load_model_config(base={"method": "eercf", "backbone": {"arch": "tvrkit-tiny"},
                                  "eercf": {"max_frames": case.frames}})
    return build_model(cfg).eval()


def _write_problem(case: Case, directory: Path) -> None:
    """Video and text feature stores (with the coarse vectors eval caches) for ``case``."""
    import torch
    import torch.nn.functional as F

    from tvrkit.models.features import TextFeatures, VideoFeatures
    from tvrkit.models.ops import masked_mean
    from tvrkit.retrieval.embed import GLOBAL
    from tvrkit.retrieval.store import StoreWriter

    torch.set_num_threads(case.threads)
    model = build(case)
    dim, t, p = model.embed_dim, case.frames, case.patches
    g = torch.Generator().manual_seed(case.seed + 1)
    targets = torch.randperm(case.videos, generator=g)[: case.texts]
    means = torch.empty(case.texts, dim)
    videos = StoreWriter(directory / "videos")
    for start in range(0, case.videos, CHUNK):
        n = min(CHUNK, case.videos - start)
        mask = torch.arange(t)[None, :] < torch.randint(t // 2, t + 1, (n, 1), generator=g)
        raw = F.normalize(torch.randn(n, t, dim, generator=g), dim=-1) * mask[..., None]
        noise = torch.randn(n, t, p, dim, generator=g) * (case.patch_noise / dim**0.5)
        patches = F.normalize(raw[:, :, None] + noise, dim=-1) * mask[..., None, None]
        mine = ((targets >= start) & (targets < start + n)).nonzero().squeeze(1)
        means[mine] = F.normalize(masked_mean(raw, mask), dim=-1)[targets[mine] - start]
        with torch.inference_mode():
            feats = VideoFeatures(frames=model.temporal(raw, mask), frame_mask=mask, patches=patches, raw_frames=raw)
            arrays = {**feats.state(), GLOBAL: model.global_embeddings(feats)}
        videos.append([f"v{start + i}" for i in range(n)], arrays)
    videos.close()
    text = TextFeatures(means + torch.randn(case.texts, dim, generator=g) * (case.sentence_noise / dim**0.5))
    texts = StoreWriter(directory / "texts")
    with torch.inference_mode():
        texts.append([f"t{i}" for i in range(case.texts)], {**text.state(), GLOBAL: model.global_embeddings(text)})
    texts.close({"caption_video_ids": [f"v{i}" for i in targets.tolist()]})


def run_benchmark(case: Case) -> dict[str, Any]:
    """Generate the problem once, then time the two-stage ranking and the every-pair ranking."""
    with tempfile.TemporaryDirectory(prefix="tvrkit-bench-eercf-") as tmp:
        started = time.perf_counter()
        _fresh(_write_problem, case, Path(tmp))
        generation = time.perf_counter() - started
        runs = {"two-stage": _fresh(_measure, case, Path(tmp), case.k, build),
                "every pair by total": _fresh(_measure, case, Path(tmp), None, build)}
    return {"case": dataclasses.asdict(case), "generation_seconds": generation, "runs": runs}


def report(result: dict[str, Any]) -> str:
    """Markdown: each ranking's time and recall, the coarse stage alone, then the ratio and R@1 difference."""
    case, runs = result["case"], result["runs"]
    lines = [f"EERCF, {case['texts']:,} texts x {case['videos']:,} videos (T = {case['frames']}, "
             f"P = {case['patches']} patches per frame), random tiny model on generated features, "
             f"{case['threads']} thread(s); features generated in {result['generation_seconds']:.0f} s", ""]
    lines += ranking_table(runs, runs["two-stage"], "coarse only")
    lines += ["", comparison(runs["two-stage"], runs["every pair by total"], "two-stage", "every pair by total")]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for field in dataclasses.fields(Case):
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=type(field.default), default=field.default)
    print(report(run_benchmark(Case(**vars(parser.parse_args(argv))))))


if __name__ == "__main__":
    main()
