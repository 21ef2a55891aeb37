"""Coarse-to-fine ranking on plain tensors, the feature store, order-pair accuracy and the
embedding export, checked against dense brute-force computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tvrkit.eval.pairs import order_pair_accuracy, pair_queries, score_order_pairs
from tvrkit.retrieval.coarse_fine import (
    coarse_groups,
    coarse_t2v,
    final_top,
    fine_rerank,
    group_item_scorer,
    union_item_scorer,
    union_scores,
)
from tvrkit.retrieval.metrics import rank_counts, ranks, t2v_problem, v2t_problem


def _unit(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x, dim=1)


def _problem(n_texts: int = 40, n_videos: int = 30, dim: int = 16, seed: int = 0):
    """Global embeddings (texts near their video) and a fine score that reorders them: a
    bilinear term on separate 'fine' features, so coarse and fine rankings differ."""
    g = torch.Generator().manual_seed(seed)
    videos = _unit(torch.randn(n_videos, dim, generator=g))
    video_of_text = torch.arange(n_texts) % n_videos
    texts = _unit(videos[video_of_text] + 0.9 * torch.randn(n_texts, dim, generator=g))
    fine_t, fine_v = torch.randn(n_texts, dim, generator=g), torch.randn(n_videos, dim, generator=g)
    fine_v[video_of_text] += 0.5 * fine_t  # the fine level knows something the global one does not

    def matrix(queries: torch.Tensor, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        coarse = texts[queries] @ videos[rows].T
        fine = (fine_t[queries] @ fine_v[rows].T) / dim
        return {"fine": fine, "total": coarse + fine}

    return texts, videos, video_of_text.numpy(), matrix


def _dense_total(matrix, n_texts: int, n_videos: int) -> np.ndarray:
    return matrix(torch.arange(n_texts), torch.arange(n_videos))["total"].numpy()


@pytest.mark.parametrize("max_pairs", [1, 300])
def test_k_equal_to_gallery_is_the_full_fine_ranking(max_pairs):
    texts, videos, targets, matrix = _problem()
    coarse = coarse_t2v(texts, videos, targets, k=len(videos), n_gallery=len(videos))
    fine = fine_rerank(coarse, targets, union_item_scorer(matrix), k=len(videos), max_pairs=max_pairs)
    dense = _dense_total(matrix, len(texts), len(videos))
    full = rank_counts(dense, targets)
    np.testing.assert_array_equal(fine.counts.greater, full.greater)
    np.testing.assert_array_equal(fine.counts.equal, full.equal)
    # and the final order is the dense order
    dense_order = np.argsort(-dense, axis=1, kind="stable")[:, :10]
    np.testing.assert_array_equal(final_top(coarse, fine, 10).numpy(), dense_order)


def _brute_c2f_rank(coarse_scores: np.ndarray, fine_scores: np.ndarray, target: int, k: int) -> int:
    """Position (1-based) of ``target`` in: the coarse top k sorted by fine score, then the rest by coarse."""
    order = np.argsort(-coarse_scores, kind="stable")
    top, rest = order[:k], order[k:]
    final = list(top[np.argsort(-fine_scores[top], kind="stable")]) + list(rest)
    return final.index(target) + 1


@pytest.mark.parametrize("k", [1, 5, 12])
def test_coarse_to_fine_ranks_match_brute_force(k):
    texts, videos, targets, matrix = _problem(seed=1)
    coarse = coarse_t2v(texts, videos, targets, k=max(k, 10), n_gallery=len(videos))
    fine = fine_rerank(coarse, targets, union_item_scorer(matrix), k=k)
    coarse_dense = (texts @ videos.T).numpy()
    fine_dense = _dense_total(matrix, len(texts), len(videos))
    expected = [_brute_c2f_rank(coarse_dense[i], fine_dense[i], targets[i], k) for i in range(len(texts))]
    np.testing.assert_array_equal(ranks(fine.counts, "optimistic"), expected)  # no ties in random floats
    assert fine.k == k and fine.seconds >= 0
    # the coarse counts alone are the global ranking
    np.testing.assert_array_equal(coarse.counts.greater, t2v_problem(coarse_dense, targets).counts().greater)


def test_missing_target_is_ranked_last_whatever_the_fine_scores():
    texts, videos, targets, matrix = _problem(seed=2)
    targets = targets.copy()
    targets[:3] = -1  # these texts' videos were never embedded
    n_gallery = len(videos) + 1  # the missing video still counts in the gallery
    coarse = coarse_t2v(texts, videos, targets, k=10, n_gallery=n_gallery)
    fine = fine_rerank(coarse, targets, union_item_scorer(matrix), k=10)
    assert (ranks(fine.counts, "mean")[:3] == n_gallery).all()
    assert (ranks(fine.counts, "mean")[3:] < n_gallery).all()


def test_plan_blocks_groups_queries_that_share_candidates():
    from tvrkit.retrieval.coarse_fine import plan_blocks

    cand = torch.tensor([[1, 2, 3, 4], [2, 1, 4, 3], [9, 8, 7, 6], [9, 8, 7, 5], [0, 10, 11, 12]])
    assert [b.tolist() for b in plan_blocks(cand)] == [[0, 1], [2, 3], [4]]
    assert [b.tolist() for b in plan_blocks(cand, max_pairs=9)] == [[0, 1], [2], [3], [4]]  # 2 x 4 fits, 2 x 5 not
    assert [b.tolist() for b in plan_blocks(cand, max_pairs=7)] == [[0], [1], [2], [3], [4]]


def test_union_scores_pick_each_querys_candidates():
    _, _, _, matrix = _problem()
    queries = torch.tensor([0, 5, 9])
    cand = torch.tensor([[3, 1, 3], [2, 29, 0], [7, 7, 8]])
    got = union_scores(matrix, queries, cand)
    for i, q in enumerate(queries):
        want = matrix(q[None], cand[i])
        for level in ("fine", "total"):
            torch.testing.assert_close(got[level][i], want[level][0])


def test_video_to_text_groups_match_the_dense_group_protocol():
    """v2t: each video ranks caption groups by their best caption, coarse then fine."""
    n_videos = 12
    g = torch.Generator().manual_seed(3)
    caption_video = np.repeat(np.arange(n_videos), [1, 3, 2] * 4)  # 1-3 captions per video
    videos = _unit(torch.randn(n_videos, 8, generator=g))
    texts = _unit(videos[torch.from_numpy(caption_video)] + torch.randn(len(caption_video), 8, generator=g))
    extra = torch.randn(n_videos, len(caption_video), generator=g)

    def matrix(queries: torch.Tensor, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"total": videos[queries] @ texts[rows].T + 0.3 * extra[queries][:, rows]}

    row_group = caption_video  # groups are numbered like the videos here
    targets = np.arange(n_videos)
    coarse = coarse_groups(videos, texts, row_group, targets, k=n_videos)
    dense_coarse = v2t_problem((texts @ videos.T).numpy().T, caption_video).counts()
    np.testing.assert_array_equal(coarse.counts.greater, dense_coarse.greater)
    group_rows = [np.flatnonzero(caption_video == v) for v in range(n_videos)]
    fine = fine_rerank(coarse, targets, group_item_scorer(union_item_scorer(matrix), group_rows), k=n_videos)
    dense_fine = v2t_problem(matrix(torch.arange(n_videos), torch.arange(len(caption_video)))["total"].numpy(),
                             caption_video).counts()
    np.testing.assert_array_equal(fine.counts.greater, dense_fine.greater)


def test_order_pair_accuracy_counts_ties_as_half():
    assert order_pair_accuracy([2.0, 1.0, 3.0, 1.0], [1.0, 2.0, 3.0, 0.0]) == (0.625, 1)
    acc, ties = order_pair_accuracy([1.0], [1.0])
    assert acc == 0.5 and ties == 1


def test_pair_queries_and_scores():
    pairs = [("a", "b"), ("c", "x")]  # x is not in the gallery: that pair cannot be tested
    queries = pair_queries(pairs, ["a", "a", "b", "c", "d"], ["d", "b", "a", "c"])
    assert queries.n_pairs == 1 and len(queries) == 3
    np.testing.assert_array_equal(queries.caption_index, [0, 1, 2])
    np.testing.assert_array_equal(queries.own_index, [2, 2, 1])
    np.testing.assert_array_equal(queries.twin_index, [1, 1, 2])
    # a model that prefers gallery row 2 for every caption: right for a's captions, wrong for b's
    sim = torch.tensor([[0.0, 0.1, 0.9, 0.0]] * 5)
    result = score_order_pairs(queries, lambda q, c: {"total": torch.gather(sim[q], 1, c)}, head="seqTransf")
    assert result["accuracy"]["total"] == pytest.approx(2 / 3)
    assert result["head"] == "seqTransf" and result["n_captions"] == 3
    assert score_order_pairs(pair_queries([], ["a"], ["a"]), lambda q, c: {}) is None


def test_feature_store_round_trip_padding_and_merge(tmp_path):
    from tvrkit.retrieval.store import FeatureStore, StoreWriter, merge_stores

    w = StoreWriter(tmp_path / "a", dtype="float16")
    w.append(["v1", "v2"], {"frames": np.ones((2, 3, 4), np.float32), "mask": np.ones((2, 3), bool)})
    w.append(["v3"], {"frames": np.full((1, 2, 4), 2.0, np.float32), "mask": np.ones((1, 2), bool)})
    a = w.close()
    rows = a.rows([2, 0])
    assert rows["frames"].dtype == torch.float32 and rows["frames"].shape == (2, 3, 4)
    assert rows["mask"].tolist() == [[True, True, False], [True, True, True]]  # padded positions masked
    w = StoreWriter(tmp_path / "b")
    w.append(["v3", "v4"], {"frames": np.zeros((2, 3, 4), np.float32), "mask": np.zeros((2, 3), bool)})
    b = w.close()
    merged = merge_stores([a, b], tmp_path / "m", ["v4", "v3", "v1"])
    assert merged.ids == ["v4", "v3", "v1"]
    assert merged.rows(slice(None))["frames"][:, 0, 0].tolist() == [0.0, 2.0, 1.0]  # v3 from the first part
    assert FeatureStore.is_complete(tmp_path / "m") and not FeatureStore.is_complete(tmp_path / "nothing")
    with pytest.raises(KeyError):
        merge_stores([a], tmp_path / "x", ["v9"])


def test_export_round_trip(tmp_path):
    from tvrkit.eval.export import read_embeddings, write_embeddings

    vectors = np.random.default_rng(0).standard_normal((5, 7)).astype(np.float32)
    write_embeddings(tmp_path / "e.parquet", {"video_id": list("abcde")}, vectors, {"split": "test"})
    ids, back, meta = read_embeddings(tmp_path / "e.parquet")
    assert ids == {"video_id": list("abcde")}
    np.testing.assert_array_equal(back, vectors)
    assert meta == {"split": "test", "dim": 7, "count": 5}
    with pytest.raises(ValueError, match="rows"):
        write_embeddings(tmp_path / "f.parquet", {"video_id": ["a"]}, vectors, {})
    assert not (tmp_path / "f.parquet").exists()
