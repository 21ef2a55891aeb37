"""The ``tvrkit metrics`` stage: evaluate a saved similarity matrix (rows texts, columns
videos) under the retrieval protocol, post-processing each direction with its own
querybank, and write the reports.

Nothing is dropped silently: a video whose column is entirely NaN has no scores (no
embedding); the stage stops and names such videos unless ``allow_missing``, which ranks
them last and records how many. Any other non-finite score is an error.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from tvrkit.config import save_resolved
from tvrkit.errors import ConfigError, DataError
from tvrkit.eval.config import MetricsConfig
from tvrkit.eval.outputs import metrics_document, write_reports
from tvrkit.retrieval.metrics import (
    TOP_IDS,
    DirectionRanks,
    RankingProblem,
    t2v_problem,
    v2t_problem,
    with_missing_last,
)
from tvrkit.retrieval.postprocess import BANKLESS, apply_postprocess
from tvrkit.runlog import write_summary

log = logging.getLogger(__name__)


def _load_matrix(path: str, what: str) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{what}: file not found: {p}")
    try:
        arr = np.load(p, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise DataError(f"{what} {p}: not a readable .npy array ({exc})") from exc
    if arr.ndim != 2 or arr.dtype.kind not in "fiu":
        raise DataError(f"{what} {p}: need a 2-D numeric matrix, got shape {arr.shape} dtype {arr.dtype}")
    return arr if arr.dtype.kind == "f" else arr.astype(np.float64)


def _load_map(path: str | None, n_texts: int, n_videos: int) -> np.ndarray:
    if path is None:
        if n_texts != n_videos:
            raise ConfigError(f"the similarity matrix is {n_texts}x{n_videos}, not square: --map is required")
        return np.arange(n_texts)
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"--map: file not found: {p}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise DataError(f"--map {p}: not valid JSON ({exc})") from exc
    if not isinstance(data, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in data):
        raise DataError(f"--map {p}: must be a JSON list of video column indices (integers)")
    video_of_text = np.asarray(data, dtype=np.int64)
    if len(video_of_text) != n_texts:
        raise DataError(f"--map {p}: {len(video_of_text)} entries for {n_texts} text rows")
    if n_texts and (video_of_text.min() < 0 or video_of_text.max() >= n_videos):
        raise DataError(f"--map {p}: video indices must lie in [0, {n_videos})")
    return video_of_text


def _missing_videos(sim: np.ndarray, allow_missing: bool) -> np.ndarray:
    """Columns that are entirely NaN (videos with no scores); any other non-finite value is an error."""
    missing = np.isnan(sim).all(axis=0) if sim.shape[0] else np.zeros(sim.shape[1], dtype=bool)
    bad = int((~np.isfinite(sim[:, ~missing])).sum())
    if bad:
        raise DataError(f"the similarity matrix has {bad} non-finite scores outside all-NaN (missing) video columns")
    if missing.any() and not allow_missing:
        cols = np.flatnonzero(missing)
        named = ", ".join(map(str, cols[:20])) + (f" and {len(cols) - 20} more" if len(cols) > 20 else "")
        raise DataError(
            f"{len(cols)} videos have no scores (all-NaN columns): {named}; --allow-missing ranks them last"
        )
    return missing


def _post_direction(
    cfg: MetricsConfig,
    direction: str,
    sim_qg: np.ndarray,
    keep_rows: np.ndarray,
    keep_cols: np.ndarray,
    bank_path: str | None,
) -> tuple[np.ndarray, dict[str, Any] | None]:
    """Post-process the scorable part of one direction's (queries x gallery) matrix;
    unscorable rows/columns become -inf. Returns the matrix and its querybank record."""
    if cfg.post not in BANKLESS and bank_path is None and not cfg.transductive:
        log.warning("no querybank for %s: reported without %s post-processing", direction, cfg.post)
        name = "none"
    else:
        name = cfg.post
    everything = keep_rows.all() and keep_cols.all()
    sub = sim_qg if everything else sim_qg[np.ix_(keep_rows, keep_cols)]
    bank = None if bank_path is None else _load_matrix(bank_path, "querybank")
    if bank is not None and bank.shape[1] != sim_qg.shape[1]:
        raise DataError(f"querybank {bank_path} has {bank.shape[1]} columns; the gallery has {sim_qg.shape[1]}")
    params = cfg.post_params() if name == cfg.post else {}
    result = apply_postprocess(
        name,
        sub,
        None if bank is None else bank[:, keep_cols],
        transductive=cfg.transductive,
        bank_source=str(bank_path),
        **params,
    )
    if everything:
        return result.sim, result.querybank
    full = np.full(sim_qg.shape, -np.inf)
    full[np.ix_(keep_rows, keep_cols)] = result.sim
    return full, result.querybank


def _direction(
    name: str,
    problem: RankingProblem,
    *,
    missing_target: np.ndarray,
    unscored_query: np.ndarray,
    ids: tuple[list[str], list[str], list[str]],
) -> DirectionRanks:
    """Rank one direction; ``ids`` are (query, gallery, target) ids. Queries whose correct
    item is missing, or which have no scores themselves, rank last; the latter list no top ids."""
    query_ids, gallery_ids, target_ids = ids
    counts = with_missing_last(
        problem.counts(), missing_target | unscored_query, problem.sim.shape[1], problem.n_correct()
    )
    top = problem.top(TOP_IDS)
    return DirectionRanks(
        direction=name,
        counts=counts,
        n_gallery=problem.sim.shape[1],
        query_ids=query_ids,
        target_ids=target_ids,
        top_ids=[[] if gone else [gallery_ids[j] for j in row] for row, gone in zip(top, unscored_query, strict=True)],
    )


def run_metrics(cfg: MetricsConfig) -> dict[str, Any]:
    """Evaluate ``cfg.sim`` and write metrics.json, metrics.md, ranks.parquet and plots to
    ``cfg.out``; returns the metrics.json document."""
    started = time.perf_counter()
    sim = _load_matrix(cfg.sim, "--sim")
    n_texts, n_videos = sim.shape
    if not n_texts or not n_videos:
        raise DataError(f"--sim {cfg.sim}: empty similarity matrix {sim.shape}")
    video_of_text = _load_map(cfg.map, n_texts, n_videos)
    missing = _missing_videos(sim, cfg.allow_missing)
    text_ids, video_ids = [str(i) for i in range(n_texts)], [str(j) for j in range(n_videos)]
    everyone = np.ones(n_texts, dtype=bool)

    sim_t2v, bank_t2v = _post_direction(cfg, "t2v", sim, everyone, ~missing, cfg.bank_sim)
    t2v = _direction(
        "t2v",
        t2v_problem(sim_t2v, video_of_text),
        missing_target=missing[video_of_text],
        unscored_query=np.zeros(n_texts, dtype=bool),
        ids=(text_ids, video_ids, [video_ids[v] for v in video_of_text]),
    )
    del sim_t2v

    sim_v2t, bank_v2t = _post_direction(cfg, "v2t", sim.T, ~missing, everyone, cfg.bank_sim_v2t)
    problem = v2t_problem(sim_v2t, video_of_text, cfg.v2t_mode)
    query_ids = [video_ids[v] for v in problem.query_index]
    gallery_ids = {"group": video_ids, "caption": text_ids}[cfg.v2t_mode]
    gone = missing[problem.query_index]
    v2t = _direction("v2t", problem, missing_target=gone, unscored_query=gone, ids=(query_ids, gallery_ids, query_ids))
    del sim_v2t, problem

    protocol = {
        "v2t_mode": cfg.v2t_mode,
        "n_queries": {"t2v": len(t2v.counts), "v2t": len(v2t.counts)},
        "n_gallery": {"t2v": t2v.n_gallery, "v2t": v2t.n_gallery},
        "missing_video_ids": [video_ids[j] for j in np.flatnonzero(missing)],
    }
    doc = metrics_document(
        {"t2v": t2v, "v2t": v2t},
        ties=cfg.ties,
        n_texts=n_texts,
        n_videos=n_videos,
        post=cfg.post,
        post_params=cfg.post_params(),
        querybank={"t2v": bank_t2v, "v2t": bank_v2t},
        missing_videos=int(missing.sum()),
        split=cfg.split,
        checkpoint=cfg.checkpoint,
        protocol=protocol,
    )
    out = Path(cfg.out)
    save_resolved(cfg, out)
    write_reports(out, doc, [t2v, v2t], plots=cfg.plots)
    seconds = time.perf_counter() - started
    write_summary(
        out / "summary.json",
        {"stage": "metrics", "ok": len(t2v.counts) + len(v2t.counts), "skipped": 0, "failed": 0, "seconds": seconds},
    )
    log.info("metrics: t2v R@1 %.1f, v2t R@1 %.1f (%.1f s) -> %s", doc["t2v"]["R@1"], doc["v2t"]["R@1"], seconds, out)
    return doc
