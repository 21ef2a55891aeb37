"""Retrieval metrics (R@K, MdR, MnR) from the rank of the correct item, with an explicit tie policy.

Every metric is a function of three counts per query (:class:`RankCounts`): ``greater``,
the gallery items scored strictly above the best correct item; ``equal``, the wrong items
scored exactly equal to it; ``correct_tied``, the correct items at that score (1 unless a
query has several correct items). Ranks are 1-based. Tie policies:

* ``optimistic``: correct items win every tie, rank = greater + 1.
* ``pessimistic``: they lose every tie, rank = greater + equal + 1.
* ``mean`` (default): the expectation under a uniformly random order of the tied items.
  R@K is the expected hit rate, the probability that the first correct item among the
  ``equal + correct_tied`` tied ones lands within the first K positions (for one correct
  item: the fraction of its tie positions within K). MnR is the exact expected mean rank:
  the mean of the per-query expected ranks ``greater + (equal + correct_tied + 1) /
  (correct_tied + 1)`` (``greater + equal / 2 + 1`` for one correct item). MdR is the
  median (numpy's, averaging the middle two) of those per-query expected ranks; the
  expected median under random tie-breaking has no closed form, and both agree whenever
  there are no ties.

Without ties the three policies agree and equal CLIP4Clip's ``compute_metrics`` (which
counts a query once per tied position and so inflates its denominator); a constant matrix
scores R@1 = 100/n under ``mean`` and 100 only under ``optimistic``.

Multi-caption protocol (``video_of_text`` maps each text row to its video column):
text->video ranks all videos for each caption. Video->text ranks, for each video that has
captions, either the caption *groups* (``group``, CLIP4Clip's ``tensor_video_to_text_sim``:
a group scores the max over its captions, one group per video) or all captions
(``caption``: the rank of the best of its own captions among all captions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tvrkit.errors import ConfigError

TIE_POLICIES: tuple[str, ...] = ("mean", "optimistic", "pessimistic")
RECALL_KS: tuple[int, ...] = (1, 5, 10, 50)
METRIC_KEYS: tuple[str, ...] = tuple(f"R@{k}" for k in RECALL_KS) + ("MdR", "MnR")
V2T_MODES: tuple[str, ...] = ("group", "caption")
TOP_IDS = 10  # best gallery ids kept per query (ranks.parquet's top10, the report)

# Dense counting works on row chunks of about this many cells, so its boolean
# temporaries stay near 16 MiB whatever the matrix size.
_CHUNK_CELLS = 1 << 24


@dataclass(frozen=True)
class RankCounts:
    """Per-query counts from which every rank-based metric follows (see module docstring)."""

    greater: np.ndarray
    equal: np.ndarray
    correct_tied: np.ndarray

    def __post_init__(self) -> None:
        arrays = [np.asarray(a, dtype=np.int64).reshape(-1) for a in (self.greater, self.equal, self.correct_tied)]
        if len({a.shape for a in arrays}) != 1:
            raise ValueError("greater, equal and correct_tied must have one entry per query")
        if (arrays[0] < 0).any() or (arrays[1] < 0).any() or (arrays[2] < 1).any():
            raise ValueError("counts must be non-negative and correct_tied >= 1")
        for name, arr in zip(("greater", "equal", "correct_tied"), arrays, strict=True):
            object.__setattr__(self, name, arr)

    @classmethod
    def single(cls, greater: np.ndarray, equal: np.ndarray) -> RankCounts:
        """Counts for queries with exactly one correct item."""
        greater = np.asarray(greater, dtype=np.int64)
        return cls(greater, equal, np.ones_like(greater))

    def __len__(self) -> int:
        return int(self.greater.shape[0])


@dataclass(frozen=True)
class DirectionRanks:
    """One direction's per-query results, by id: ``top_ids[i]`` lists query i's best gallery
    ids (empty for a query that could not be scored); ``n_gallery`` is the gallery size."""

    direction: str
    counts: RankCounts
    n_gallery: int
    query_ids: Sequence[str]
    target_ids: Sequence[str]
    top_ids: Sequence[Sequence[str]]

def check_ties(ties: str) -> str:
    """Return ``ties`` if it names a tie policy, else raise :class:`ConfigError`."""
    if ties not in TIE_POLICIES:
        raise ConfigError(f"unknown tie policy {ties!r}; allowed: {', '.join(TIE_POLICIES)}")
    return ties


def ranks(counts: RankCounts, ties: str = "mean") -> np.ndarray:
    """The rank (float64, 1-based) of each query's first correct item under ``ties``."""
    g, e, m = counts.greater, counts.equal, counts.correct_tied
    by_policy = {
        "optimistic": lambda: g + 1.0,
        "pessimistic": lambda: g + e + 1.0,
        # expected position of the first of m marked items among e + m shuffled ones
        "mean": lambda: g + (e + m + 1.0) / (m + 1.0),
    }
    return by_policy[check_ties(ties)]()


def hit_probability(counts: RankCounts, k: int, ties: str = "mean") -> np.ndarray:
    """Per query, the probability (0..1) that the first correct item ranks within ``k``."""
    check_ties(ties)
    if ties != "mean":
        return (ranks(counts, ties) <= k).astype(np.float64)
    g, e, m = counts.greater, counts.equal, counts.correct_tied
    slots = k - g  # positions within k left for the tied block
    j = np.clip(slots, 0, e)
    # P(the first j of e + m shuffled items are all wrong) = C(e, j) / C(e + m, j)
    #   = prod_{i=1..m} (e - j + i) / (e + i)   for 0 <= j <= e
    miss = np.ones(len(counts))
    for i in range(1, int(m.max(initial=1)) + 1):
        miss = np.where(i <= m, miss * (e - j + i) / (e + i), miss)
    return np.where(slots <= 0, 0.0, np.where(slots > e, 1.0, 1.0 - miss))


def summarize(counts: RankCounts, ties: str = "mean") -> dict[str, float]:
    """R@1/5/10/50 (percent), MdR and MnR of ``counts`` under ``ties``."""
    if len(counts) == 0:
        raise ValueError("no queries to evaluate")
    out = {f"R@{k}": 100.0 * float(hit_probability(counts, k, ties).mean()) for k in RECALL_KS}
    r = ranks(counts, ties)
    out["MdR"] = float(np.median(r))
    out["MnR"] = float(r.mean())
    return out


def rank_counts(sim: np.ndarray, targets: np.ndarray, col_labels: np.ndarray | None = None) -> RankCounts:
    """Counts for each row of ``sim`` (queries x gallery), compared exactly (no tolerance).

    Row i's correct items are the columns whose label equals ``targets[i]``; ``col_labels``
    defaults to the column indices, i.e. ``targets[i]`` is the one correct column. NaN
    scores compare as neither greater nor equal, so callers reject them first.
    """
    sim = np.asarray(sim)
    targets = np.asarray(targets)
    n_rows, n_cols = sim.shape
    if targets.shape != (n_rows,):
        raise ValueError(f"need one target per row: {targets.shape} for {n_rows} rows")
    labels = np.arange(n_cols) if col_labels is None else np.asarray(col_labels)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    step = max(1, _CHUNK_CELLS // max(n_cols, 1))
    for start in range(0, n_rows, step):
        block = sim[start : start + step]
        correct = labels[None, :] == targets[start : start + step, None]
        if not correct.any(axis=1).all():
            raise ValueError("a query has no correct column (its target label is not in the gallery)")
        best = np.where(correct, block, -np.inf).max(axis=1)[:, None]
        at_best = block == best
        tied_correct = (at_best & correct).sum(axis=1)
        parts.append(((block > best).sum(axis=1), at_best.sum(axis=1) - tied_correct, tied_correct))
    if not parts:
        return RankCounts.single(np.zeros(0), np.zeros(0))
    return RankCounts(*(np.concatenate(p) for p in zip(*parts, strict=True)))


def with_missing_last(
    counts: RankCounts, missing: np.ndarray, n_gallery: int, n_correct: np.ndarray | int = 1
) -> RankCounts:
    """Rank queries flagged ``missing`` (their correct item, or the query itself, could not be
    scored) at the worst possible position: ``n_gallery - n_correct + 1`` under every policy."""
    missing = np.asarray(missing, dtype=bool)
    n_correct = np.broadcast_to(np.asarray(n_correct, dtype=np.int64), missing.shape)
    return RankCounts(
        np.where(missing, n_gallery - n_correct, counts.greater),
        np.where(missing, 0, counts.equal),
        np.where(missing, 1, counts.correct_tied),
    )


def top_indices(sim: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's ``k`` best scores, best first (ties in column order)."""
    sim = np.asarray(sim)
    k = min(k, sim.shape[1])
    if k == 0:
        return np.zeros((sim.shape[0], 0), dtype=np.int64)
    out = []
    step = max(1, _CHUNK_CELLS // max(sim.shape[1], 1))
    for start in range(0, sim.shape[0], step):
        neg = -sim[start : start + step]
        part = np.sort(np.argpartition(neg, k - 1, axis=1)[:, :k], axis=1)
        order = np.argsort(np.take_along_axis(neg, part, axis=1), axis=1, kind="stable")
        out.append(np.take_along_axis(part, order, axis=1))
    return np.concatenate(out) if out else np.zeros((0, k), dtype=np.int64)


@dataclass(frozen=True)
class RankingProblem:
    """One retrieval direction as a (queries x gallery) score matrix plus what is correct.

    ``targets[i]`` is the label of row i's correct columns; ``col_labels`` labels each
    column (None: its index). ``query_index``/``gallery_index`` say which text or video each
    row/column is, so results can be reported by id.
    """

    sim: np.ndarray
    targets: np.ndarray
    col_labels: np.ndarray | None
    query_index: np.ndarray
    gallery_index: np.ndarray

    def counts(self) -> RankCounts:
        return rank_counts(self.sim, self.targets, self.col_labels)

    def n_correct(self) -> np.ndarray:
        """How many gallery columns are correct for each query."""
        if self.col_labels is None:
            return np.ones(len(self.targets), dtype=np.int64)
        labels, sizes = np.unique(self.col_labels, return_counts=True)
        return sizes[np.searchsorted(labels, self.targets)]

    def top(self, k: int) -> np.ndarray:
        """Gallery entries (``gallery_index`` values) of each row's top ``k``."""
        return self.gallery_index[top_indices(self.sim, k)]


def t2v_problem(sim: np.ndarray, video_of_text: np.ndarray) -> RankingProblem:
    """Text->video: every text row ranks all video columns; its video is correct."""
    video_of_text = np.asarray(video_of_text, dtype=np.int64)
    return RankingProblem(sim, video_of_text, None, np.arange(sim.shape[0]), np.arange(sim.shape[1]))


def caption_groups(sim_vt: np.ndarray, video_of_text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(videos x groups) scores where a group is one video's captions scored by their max;
    returns the matrix and the video of each group (sorted)."""
    video_of_text = np.asarray(video_of_text, dtype=np.int64)
    order = np.argsort(video_of_text, kind="stable")
    group_videos, starts = np.unique(video_of_text[order], return_index=True)
    return np.maximum.reduceat(np.asarray(sim_vt)[:, order], starts, axis=1), group_videos


def v2t_problem(sim_vt: np.ndarray, video_of_text: np.ndarray, mode: str = "group") -> RankingProblem:
    """Video->text on a (videos x texts) matrix: each video with captions is a query.

    ``group`` ranks caption groups by their best caption (CLIP4Clip); ``caption`` ranks all
    captions and counts the video's best one.
    """
    if mode not in V2T_MODES:
        raise ConfigError(f"unknown video->text mode {mode!r}; allowed: {', '.join(V2T_MODES)}")
    video_of_text = np.asarray(video_of_text, dtype=np.int64)
    query_videos = np.unique(video_of_text)
    if mode == "caption":
        return RankingProblem(
            np.asarray(sim_vt)[query_videos], query_videos, video_of_text, query_videos, np.arange(len(video_of_text))
        )
    grouped, group_videos = caption_groups(sim_vt, video_of_text)
    return RankingProblem(grouped[query_videos], query_videos, group_videos, query_videos, group_videos)
