"""Retrieval metrics: equal to straightforward references without ties, exact expectations
under ties (checked by enumerating tie orders), multi-caption protocols, missing-last."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tvrkit.errors import ConfigError
from tvrkit.retrieval.metrics import (
    RECALL_KS,
    RankCounts,
    hit_probability,
    rank_counts,
    ranks,
    summarize,
    t2v_problem,
    top_indices,
    v2t_problem,
    with_missing_last,
)


def _reference_metrics(rank: np.ndarray) -> dict[str, float]:
    out = {f"R@{k}": 100.0 * float(np.mean(rank <= k)) for k in RECALL_KS}
    out.update(MdR=float(np.median(rank)), MnR=float(np.mean(rank)))
    return out


def _sorted_position_ranks(sim: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """CLIP4Clip-style: sort each row descending and find where the correct score sits."""
    order = np.argsort(-sim, axis=1)
    return np.array([int(np.flatnonzero(row == t)[0]) + 1 for row, t in zip(order, targets, strict=True)])


@pytest.mark.parametrize("ties", ["mean", "optimistic", "pessimistic"])
def test_square_random_matrix_matches_sort_reference(ties: str) -> None:
    rng = np.random.default_rng(0)
    sim = rng.normal(size=(120, 120)) + 2.0 * np.eye(120)
    got = summarize(t2v_problem(sim, np.arange(120)).counts(), ties)
    assert got == pytest.approx(_reference_metrics(_sorted_position_ranks(sim, np.arange(120))))
    got_v2t = summarize(rank_counts(sim.T, np.arange(120)), ties)
    assert got_v2t == pytest.approx(_reference_metrics(_sorted_position_ranks(sim.T, np.arange(120))))


def test_multi_caption_t2v_and_both_v2t_modes_match_loops() -> None:
    rng = np.random.default_rng(1)
    n_videos = 30
    video_of_text = np.concatenate([np.arange(n_videos), rng.integers(0, n_videos, 50)])
    sim = rng.normal(size=(len(video_of_text), n_videos))
    sim[np.arange(len(video_of_text)), video_of_text] += 1.0

    t2v = summarize(t2v_problem(sim, video_of_text).counts())
    assert t2v == pytest.approx(_reference_metrics(_sorted_position_ranks(sim, video_of_text)))

    group_rank, caption_rank = [], []
    for v in range(n_videos):
        own = video_of_text == v
        groups = np.array([sim[video_of_text == g, v].max() for g in range(n_videos)])
        group_rank.append(1 + int((groups > groups[v]).sum()))
        caption_rank.append(min(1 + int((sim[:, v] > s).sum()) for s in sim[own, v]))
    group = v2t_problem(sim.T, video_of_text, "group")
    assert summarize(group.counts()) == pytest.approx(_reference_metrics(np.array(group_rank)))
    caption = v2t_problem(sim.T, video_of_text, "caption")
    assert summarize(caption.counts()) == pytest.approx(_reference_metrics(np.array(caption_rank)))
    assert (caption.n_correct() == np.bincount(video_of_text)).all()


def test_videos_without_captions_are_gallery_only() -> None:
    sim = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.3]])  # video 2 has no caption
    t2v = t2v_problem(sim, np.array([0, 1]))
    v2t = v2t_problem(sim.T, np.array([0, 1]))
    assert t2v.sim.shape == (2, 3)
    assert list(v2t.query_index) == [0, 1]
    assert ranks(v2t.counts()).tolist() == [1.0, 1.0]


def test_constant_matrix_is_not_perfect() -> None:
    n = 20
    counts = rank_counts(np.zeros((n, n)), np.arange(n))
    mean = summarize(counts, "mean")
    assert mean["R@1"] == pytest.approx(100.0 / n)
    assert mean["R@5"] == pytest.approx(500.0 / n)
    assert mean["MnR"] == pytest.approx((n + 1) / 2)
    assert summarize(counts, "optimistic")["R@1"] == 100.0
    assert summarize(counts, "pessimistic")["R@1"] == 0.0
    assert summarize(counts, "pessimistic")["MnR"] == n


def _enumerated(greater: int, equal: int, correct: int, k: int) -> tuple[float, float]:
    """(P(hit within k), E[rank]) by enumerating every order of the tied items."""
    items = [True] * correct + [False] * equal
    orders = set(itertools.permutations(items))
    first = [greater + order.index(True) + 1 for order in orders]
    return float(np.mean([f <= k for f in first])), float(np.mean(first))


@pytest.mark.parametrize("greater,equal,correct", [(0, 0, 1), (1, 2, 1), (0, 4, 1), (2, 3, 2), (0, 2, 3), (3, 0, 2)])
def test_mean_policy_is_the_exact_expectation_over_tie_orders(greater: int, equal: int, correct: int) -> None:
    counts = RankCounts([greater], [equal], [correct])
    for k in range(1, greater + equal + 3):
        p, expected_rank = _enumerated(greater, equal, correct, k)
        assert hit_probability(counts, k, "mean")[0] == pytest.approx(p)
        assert ranks(counts, "mean")[0] == pytest.approx(expected_rank)
    assert ranks(counts, "optimistic")[0] == greater + 1
    assert ranks(counts, "pessimistic")[0] == greater + equal + 1


def test_constructed_ties_give_bounds_and_mean() -> None:
    # correct column 0 scores 0.5: one item above, two tied with it
    sim = np.array([[0.5, 0.9, 0.5, 0.5, 0.1]])
    counts = rank_counts(sim, np.array([0]))
    assert (counts.greater[0], counts.equal[0], counts.correct_tied[0]) == (1, 2, 1)
    assert [ranks(counts, t)[0] for t in ("optimistic", "mean", "pessimistic")] == [2.0, 3.0, 4.0]
    assert [hit_probability(counts, k)[0] for k in (1, 2, 3, 4)] == pytest.approx([0, 1 / 3, 2 / 3, 1])


def test_caption_mode_counts_ties_among_own_captions_once() -> None:
    # video 0 has captions 0 and 1, both tied with caption 2 (video 1) at the top
    sim_vt = np.array([[0.7, 0.7, 0.7, 0.2], [0.1, 0.2, 0.9, 0.8]])
    problem = v2t_problem(sim_vt, np.array([0, 0, 1, 1]), "caption")
    counts = problem.counts()
    assert (counts.greater[0], counts.equal[0], counts.correct_tied[0]) == (0, 1, 2)
    assert ranks(counts, "mean")[0] == pytest.approx(4 / 3)  # first of 2 correct among 3 shuffled


def test_missing_queries_rank_last_under_every_policy() -> None:
    counts = RankCounts.single([0, 3], [2, 0])
    out = with_missing_last(counts, np.array([False, True]), n_gallery=10)
    for ties in ("mean", "optimistic", "pessimistic"):
        assert ranks(out, ties)[1] == 10.0
    assert ranks(with_missing_last(counts, np.array([True, False]), 10, n_correct=3), "mean")[0] == 8.0


def test_top_indices_match_argsort_and_ties_keep_column_order() -> None:
    rng = np.random.default_rng(2)
    sim = rng.normal(size=(7, 40))
    assert (top_indices(sim, 10) == np.argsort(-sim, axis=1)[:, :10]).all()
    assert top_indices(np.zeros((1, 5)), 3).tolist() == [[0, 1, 2]]
    assert top_indices(sim, 100).shape == (7, 40)


def test_bad_inputs_are_rejected() -> None:
    with pytest.raises(ConfigError):
        summarize(RankCounts.single([0], [0]), "median")
    with pytest.raises(ValueError):
        RankCounts([0, 1], [0], [1, 1])
    with pytest.raises(ValueError):
        rank_counts(np.zeros((2, 3)), np.array([0, 5]))
    with pytest.raises(ConfigError):
        v2t_problem(np.zeros((2, 2)), np.array([0, 1]), "best")
