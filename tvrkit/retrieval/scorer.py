"""Rank an embedded split in both directions with a model's levels: the global level over the
whole gallery, the fine levels on each query's top K (see :mod:`tvrkit.retrieval.coarse_fine`).

Galleries count missing videos: a text whose video is missing ranks last among all of the
split's videos, and a missing video, as a video->text query, ranks last too. Video->text
follows CLIP4Clip's group protocol (a video ranks caption groups, one per video, each
scored by its best caption), the default of ``tvrkit metrics``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from tvrkit.retrieval.coarse_fine import (
    DEFAULT_MAX_PAIRS,
    FineResult,
    MatrixScorer,
    coarse_groups,
    coarse_t2v,
    final_top,
    fine_rerank,
    group_item_scorer,
    union_item_scorer,
)
from tvrkit.retrieval.embed import GLOBAL
from tvrkit.retrieval.metrics import TOP_IDS, DirectionRanks, RankCounts, with_missing_last
from tvrkit.retrieval.ranking import StreamResult


@dataclass(frozen=True)
class DirectionResult:
    """One direction: the final ranking (as written to ranks.parquet), the global-level
    ranking's counts, the top scores shown in the report, and the time of each pass."""

    ranks: DirectionRanks
    coarse_counts: RankCounts
    top_scores: list[list[float]]
    coarse_seconds: float
    fine_seconds: float | None
    k: int | None


def fine_needed(model: Any) -> bool:
    """True when the model's ``total`` is not the dot product of its global embeddings alone
    (see :attr:`tvrkit.models.methods.base.Method.needs_fine_scoring`)."""
    return bool(model.needs_fine_scoring)


def model_scorer(model: Any, texts: Any, videos: Any, direction: str, device: Any,
                 block_size: int = 128) -> MatrixScorer:
    """A :data:`MatrixScorer` over cached features: ``texts``/``videos`` provide
    ``text_features(rows)``/``video_features(rows)`` (an :class:`~tvrkit.retrieval.embed.Embedded`);
    for ``v2t`` queries are video rows and the gallery text rows."""

    def score(queries: torch.Tensor, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        t_idx, v_idx = (queries, rows) if direction == "t2v" else (rows, queries)
        text = texts.text_features(t_idx).to(device)
        video = videos.video_features(v_idx).to(device)
        with torch.inference_mode():
            out = model.score(text, video, block_size=block_size)
        return {name: (m if direction == "t2v" else m.T).float().cpu() for name, m in out.items()}

    return score


def _result(name: str, coarse: StreamResult, fine: FineResult | None, counts: RankCounts, coarse_counts: RankCounts,
            ids: tuple[list[str], list[str], list[str]], present: np.ndarray) -> DirectionResult:
    """Assemble a direction; ``present`` marks the queries that were scored (in order)."""
    query_ids, target_ids, gallery_ids = ids
    top = final_top(coarse, fine, TOP_IDS).numpy()
    scores = torch.cat([fine.top_scores, coarse.top_scores[:, fine.k:]], 1) if fine else coarse.top_scores
    scored = iter(zip(top, scores[:, :TOP_IDS].tolist(), strict=True))
    top_ids, top_scores = [], []
    for ok in present:
        row, vals = next(scored) if ok else ((), [])
        top_ids.append([gallery_ids[j] for j in row])
        top_scores.append(vals)
    ranks = DirectionRanks(name, counts, coarse.n_gallery, query_ids, target_ids, top_ids)
    return DirectionResult(ranks, coarse_counts, top_scores, coarse.seconds, fine.seconds if fine else None,
                           fine.k if fine else None)


def rank_t2v(embedded: Any, scorer: MatrixScorer | None, k: int | None,
             max_pairs: int = DEFAULT_MAX_PAIRS) -> DirectionResult:
    """Text->video: every caption of the split against every video of the split."""
    row = {vid: r for r, vid in enumerate(embedded.video_ids)}
    targets = np.array([row.get(v, -1) for v in embedded.caption_video_ids], dtype=np.int64)
    n_gallery = len(embedded.split_video_ids)
    k = len(row) if k is None else min(k, len(row))
    coarse = coarse_t2v(embedded.global_texts(), embedded.global_videos(), targets, max(k, TOP_IDS), n_gallery)
    fine = fine_rerank(coarse, targets, union_item_scorer(scorer), k, max_pairs) if scorer else None
    counts = fine.counts if fine else coarse.counts
    ids = (embedded.caption_ids, embedded.caption_video_ids, embedded.video_ids)
    return _result("t2v", coarse, fine, counts, coarse.counts, ids, np.ones(len(targets), dtype=bool))


def _spread(counts: RankCounts, present: np.ndarray, n_gallery: int) -> RankCounts:
    """Counts of the present queries placed among all queries; the others ranked last."""
    greater, equal = np.zeros(len(present), np.int64), np.zeros(len(present), np.int64)
    greater[present], equal[present] = counts.greater, counts.equal
    return with_missing_last(RankCounts.single(greater, equal), ~present, n_gallery)


def rank_v2t(embedded: Any, scorer: MatrixScorer | None, k: int | None,
             max_pairs: int = DEFAULT_MAX_PAIRS) -> DirectionResult:
    """Video->text (group protocol): each video with captions ranks the caption groups."""
    split_index = {vid: i for i, vid in enumerate(embedded.split_video_ids)}
    labels = np.array([split_index[v] for v in embedded.caption_video_ids], dtype=np.int64)
    group_videos, row_group = np.unique(labels, return_inverse=True)
    n_groups = len(group_videos)
    group_rows = [np.flatnonzero(row_group == g) for g in range(n_groups)]
    video_row = {vid: r for r, vid in enumerate(embedded.video_ids)}
    query_ids = [embedded.split_video_ids[i] for i in group_videos]
    present = np.array([v in video_row for v in query_ids], dtype=bool)
    rows = torch.tensor([video_row[v] for v, ok in zip(query_ids, present, strict=True) if ok], dtype=torch.int64)
    targets = np.flatnonzero(present)  # query g's correct group is g itself
    k = n_groups if k is None else min(k, n_groups)
    coarse = coarse_groups(embedded.global_videos()[rows], embedded.global_texts(), row_group, targets,
                           max(k, TOP_IDS))
    fine = None
    if scorer:
        by_group = group_item_scorer(union_item_scorer(scorer), group_rows)
        fine = fine_rerank(coarse, targets, lambda q, c: by_group(rows[q], c), k, max_pairs)
    counts = _spread(fine.counts if fine else coarse.counts, present, n_groups)
    coarse_counts = _spread(coarse.counts, present, n_groups)
    return _result("v2t", coarse, fine, counts, coarse_counts, (query_ids, query_ids, query_ids), present)


def dense_t2v(embedded: Any, scorer: MatrixScorer | None, texts: Any = None, block: int = 256) -> np.ndarray:
    """The full (texts x split videos) score matrix, NaN in the columns of missing videos
    (``tvrkit metrics``' convention). ``texts`` (default ``embedded``) may be another text
    set scored against the same videos, e.g. a querybank."""
    return dense_scores(embedded, scorer, ("total",), texts, block)["total"]


def dense_scores(embedded: Any, scorer: MatrixScorer | None, names: tuple[str, ...], texts: Any = None,
                 block: int = 256) -> dict[str, np.ndarray]:
    """:func:`dense_t2v` for several of the scorer's scores at once (partial scores and/or
    ``total``, one scoring pass); without a scorer only ``total``, the global dot product."""
    texts = texts or embedded
    split_index = {vid: i for i, vid in enumerate(embedded.split_video_ids)}
    cols = np.array([split_index[v] for v in embedded.video_ids], dtype=np.int64)
    n_texts = len(texts.caption_ids)
    sims = {name: np.full((n_texts, len(embedded.split_video_ids)), np.nan, dtype=np.float32) for name in names}
    all_rows = torch.arange(len(embedded.video_ids))
    videos_global = None if scorer else embedded.global_videos()
    for start in range(0, n_texts, block):
        queries = torch.arange(start, min(start + block, n_texts))
        if scorer:
            parts = scorer(queries, all_rows)
        else:
            parts = {"total": texts.texts.rows(queries, [GLOBAL])[GLOBAL] @ videos_global.T}
        for name, sim in sims.items():
            sim[start:start + len(queries)][:, cols] = parts[name].numpy()
    return sims
