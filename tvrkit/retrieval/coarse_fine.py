"""Coarse-to-fine retrieval (EERCF): the global level ranks the whole gallery, the fine
levels re-score only each query's top K.

The coarse pass works on unit global embeddings only, in blocks, keeping a streaming top-k
and the exact rank counts of the correct item (text->video: the gallery-blocked
:func:`tvrkit.retrieval.ranking.stream_rank`; video->text: query blocks ranked against caption
groups, :func:`coarse_groups`), so memory is O(N·k), never O(N²). The fine pass asks a
scoring callback for the K candidates of a few queries at a time; the final ranking is the
top K in fine order followed by the rest of the gallery in coarse order, and its rank
counts come from :func:`tvrkit.retrieval.ranking.rerank_counts`. With K = the gallery size it is
exactly the full fine ranking.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from tvrkit.retrieval.metrics import RankCounts, caption_groups, rank_counts
from tvrkit.retrieval.ranking import DEFAULT_BLOCK_BYTES, StreamResult, rerank_counts, stream_rank

# Scores per fine-scoring call: the call fetches the union of its queries' candidates from the
# feature store once, so with K = the whole gallery large blocks amortise that read (1M float32
# scores are 4 MiB; the model scores them in its own blocks).
DEFAULT_MAX_PAIRS = 1 << 20
# (query rows [n], candidate gallery items [n, C]) -> fine scores [n, C]
ItemScorer = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
# (query rows [n], gallery rows [U]) -> {level: scores [n, U]}, "total" included
MatrixScorer = Callable[[torch.Tensor, torch.Tensor], dict[str, torch.Tensor]]


@dataclass(frozen=True)
class FineResult:
    """The re-ranked top K: gallery items [Q, K] in fine order with their fine scores, the
    rank counts of the final (coarse-to-fine) ranking, and the time the fine pass took."""

    top_indices: torch.Tensor
    top_scores: torch.Tensor
    counts: RankCounts
    k: int
    seconds: float


def coarse_t2v(text_global: torch.Tensor, video_global: torch.Tensor, targets: np.ndarray, k: int,
               n_gallery: int, block_size: int | None = None) -> StreamResult:
    """Text->video coarse pass: every text against the whole video gallery, streamed.

    ``targets[i]`` is the gallery row of text i's video, -1 when that video is missing
    (ranked last among ``n_gallery``, which counts the missing videos too)."""
    return stream_rank(text_global, video_global, k=min(k, len(video_global)), targets=targets,
                       n_gallery=n_gallery, block_size=block_size)


def coarse_groups(query_global: torch.Tensor, row_global: torch.Tensor, row_group: np.ndarray,
                  targets: np.ndarray, k: int, block_bytes: int = DEFAULT_BLOCK_BYTES) -> StreamResult:
    """Video->text coarse pass in CLIP4Clip's group protocol: a video ranks caption *groups*
    (one per video, scored by its best caption). ``row_group[r]`` is the group (0..G-1) of
    caption row r, ``targets[q]`` the group of query q. Queries go in blocks so a block's
    (queries x captions) scores stay within ``block_bytes``; counts are exact (rank_counts)."""
    started = time.perf_counter()
    n_rows = row_global.shape[0]
    n_groups = int(row_group.max()) + 1 if n_rows else 0
    k = min(k, n_groups)
    step = max(1, block_bytes // (4 * max(n_rows, 1)))
    tops_s, tops_i, greater, equal, target_scores = [], [], [], [], []
    for start in range(0, len(query_global), step):
        sim = (query_global[start:start + step] @ row_global.T).numpy()
        grouped, group_ids = caption_groups(sim, row_group)
        if len(group_ids) != n_groups:
            raise ValueError("row_group must number the groups 0..G-1 without gaps")
        block_targets = targets[start:start + step]
        counts = rank_counts(grouped, block_targets)
        greater.append(counts.greater)
        equal.append(counts.equal)
        target_scores.append(grouped[np.arange(len(block_targets)), block_targets])
        s, i = torch.topk(torch.from_numpy(grouped), k, dim=1)
        tops_s.append(s)
        tops_i.append(i)
    counts = RankCounts.single(np.concatenate(greater or [np.zeros(0)]), np.concatenate(equal or [np.zeros(0)]))
    return StreamResult(torch.cat(tops_s) if tops_s else torch.zeros(0, k), torch.cat(tops_i) if tops_i else
                        torch.zeros(0, k, dtype=torch.int64), counts,
                        np.concatenate(target_scores or [np.zeros(0)]).astype(np.float64), n_groups,
                        time.perf_counter() - started)


def plan_blocks(candidates: torch.Tensor, max_pairs: int = DEFAULT_MAX_PAIRS,
                min_overlap: float = 0.5) -> list[torch.Tensor]:
    """Group consecutive queries that share candidates, for :func:`union_item_scorer`.

    A block is scored as (its queries x the union of their candidates), so a query joins the
    block only if at least ``min_overlap`` of its candidates are already in the union and the
    block stays within ``max_pairs`` scores. Unrelated queries go alone (K pairs each, nothing
    wasted); the captions of one video, or any query when K is the whole gallery, share one call.
    """
    blocks: list[list[int]] = []
    union: set[int] = set()
    for q, row in enumerate(candidates.tolist()):
        new = set(row) - union
        joined = len(blocks[-1]) + 1 if blocks else 0
        if blocks and len(new) <= (1 - min_overlap) * len(row) and joined * (len(union) + len(new)) <= max_pairs:
            blocks[-1].append(q)
            union |= new
        else:
            blocks.append([q])
            union = set(row)
    return [torch.tensor(b, dtype=torch.int64) for b in blocks]


def fine_rerank(coarse: StreamResult, targets: np.ndarray, score: ItemScorer, k: int,
                max_pairs: int = DEFAULT_MAX_PAIRS) -> FineResult:
    """Re-score each query's coarse top ``k`` with ``score`` and re-rank them.

    ``targets`` are gallery items (-1: missing, ranked last as in the coarse counts). Ties
    in the fine scores keep the coarse order (a stable sort), and the counts treat them
    under the run's tie policy like any other tie. Queries are scored in the blocks
    :func:`plan_blocks` forms (at most ``max_pairs`` scores per call)."""
    started = time.perf_counter()
    k = min(k, coarse.top_indices.shape[1])
    cand = coarse.top_indices[:, :k]
    fine = torch.empty(cand.shape, dtype=torch.float32)
    for rows in plan_blocks(cand, max_pairs):
        fine[rows] = score(rows, cand[rows]).float().cpu()
    counts = rerank_counts(coarse.counts, coarse.target_scores, coarse.top_scores[:, :k].numpy(), cand.numpy(),
                           fine.numpy(), np.asarray(targets))
    order = torch.sort(fine, dim=1, descending=True, stable=True).indices
    return FineResult(torch.gather(cand, 1, order), torch.gather(fine, 1, order), counts, k,
                      time.perf_counter() - started)


def final_top(coarse: StreamResult, fine: FineResult | None, n: int) -> torch.Tensor:
    """The first ``n`` gallery items of the final ranking: fine order within the top K, then
    the coarse order (what a user of coarse-to-fine retrieval would be shown)."""
    if fine is None:
        return coarse.top_indices[:, :n]
    return torch.cat([fine.top_indices, coarse.top_indices[:, fine.k:]], dim=1)[:, :n]


def union_item_scorer(matrix: MatrixScorer, level: str = "total") -> ItemScorer:
    """An :data:`ItemScorer` from a (queries x gallery rows) scorer: the queries of a block are
    scored once against the union of their candidates, then each query's own are picked out."""

    def score(queries: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        return union_scores(matrix, queries, candidates)[level]

    return score


def union_scores(matrix: MatrixScorer, queries: torch.Tensor, candidates: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every level's scores ``[n, C]`` of ``candidates`` (gallery rows) for ``queries``."""
    uniq, inverse = torch.unique(candidates, return_inverse=True)
    full = matrix(queries, uniq)
    return {level: torch.gather(m.float().cpu(), 1, inverse) for level, m in full.items()}


def group_item_scorer(rows: ItemScorer, group_rows: list[np.ndarray]) -> ItemScorer:
    """Score caption groups by their best caption: expands each candidate group into its rows
    (padding with the group's first row, which leaves the max unchanged) and takes the max."""
    width = max((len(g) for g in group_rows), default=1)
    table = torch.tensor(np.stack([np.pad(g, (0, width - len(g)), mode="edge") for g in group_rows]),
                         dtype=torch.int64)

    def score(queries: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        expanded = table[candidates]  # [n, C, width]
        flat = rows(queries, expanded.reshape(len(queries), -1))
        return flat.reshape(expanded.shape).amax(dim=2)

    return score

