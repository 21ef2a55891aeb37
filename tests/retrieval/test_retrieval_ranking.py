"""Blocked streaming ranking equals the dense computation: top-k, exact greater/equal counts
(also with many exact ties), missing targets, float16 storage, coarse-to-fine re-ranking."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tvrkit.errors import ConfigError, StageError
from tvrkit.retrieval.metrics import rank_counts, ranks, top_indices
from tvrkit.retrieval.ranking import block_size_for, iter_blocks, rerank_counts, stream_rank, unit_roundoff


def _embeddings(n: int, d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, d, generator=g), dim=1)


@pytest.mark.parametrize("block_size", [97, 1000, 5000])
@pytest.mark.parametrize("noise", [3.0, 0.2])  # 3.0: ranks spread out; 0.2: all first, few rows counted
def test_blocked_topk_and_counts_equal_dense(block_size: int, noise: float) -> None:
    gallery = _embeddings(3000, 32, 0)
    targets = torch.randint(0, 3000, (150,), generator=torch.Generator().manual_seed(1))
    queries = torch.nn.functional.normalize(gallery[targets] + noise * _embeddings(150, 32, 2), dim=1)
    result = stream_rank(queries, gallery, k=10, targets=targets, block_size=block_size)
    dense = (queries @ gallery.T).numpy()
    assert (result.top_indices.numpy() == top_indices(dense, 10)).all()
    assert np.allclose(result.top_scores.numpy(), np.sort(dense, axis=1)[:, ::-1][:, :10])
    expected = rank_counts(dense, targets.numpy())
    assert (result.counts.greater == expected.greater).all()
    assert (result.counts.equal == expected.equal).all()
    assert result.n_gallery == 3000
    assert np.allclose(result.target_scores, dense[np.arange(150), targets.numpy()])


def test_exact_ties_are_counted_like_the_dense_matrix() -> None:
    # small integer embeddings: every score is an exact integer, so ties are everywhere
    g = torch.Generator().manual_seed(3)
    gallery = torch.randint(-2, 3, (2000, 8), generator=g).float()
    queries = torch.randint(-2, 3, (100, 8), generator=g).float()
    targets = torch.randint(0, 2000, (100,), generator=g)
    blocks = list(iter_blocks(gallery, 333))  # the gallery as a stream of blocks
    result = stream_rank(queries, blocks, k=5, targets=targets, target_rows=gallery[targets])
    expected = rank_counts((queries @ gallery.T).numpy(), targets.numpy())
    assert expected.equal.sum() > 1000
    assert (result.counts.greater == expected.greater).all()
    assert (result.counts.equal == expected.equal).all()


def test_float16_memmap_gallery(tmp_path) -> None:
    gallery = _embeddings(1200, 16, 4).half().numpy()
    np.save(tmp_path / "g.npy", gallery)
    mapped = np.load(tmp_path / "g.npy", mmap_mode="r")
    queries = _embeddings(40, 16, 5).numpy()
    targets = np.arange(40) * 7
    result = stream_rank(queries, mapped, k=3, targets=targets, block_size=256)
    dense = (torch.from_numpy(queries) @ torch.from_numpy(gallery).float().T).numpy()
    expected = rank_counts(dense, targets)
    assert (result.counts.greater == expected.greater).all()
    assert (result.top_indices.numpy() == top_indices(dense, 3)).all()


def test_missing_targets_rank_last_and_blocks_need_target_rows() -> None:
    gallery = _embeddings(500, 16, 6)
    queries = _embeddings(10, 16, 7)
    targets = np.array([-1, 3, 4, -1, 5, 6, 7, 8, 9, 10])
    result = stream_rank(queries, gallery, k=5, targets=targets, n_gallery=503, block_size=128)
    assert ranks(result.counts, "mean")[[0, 3]].tolist() == [503.0, 503.0]
    assert np.isnan(result.target_scores[[0, 3]]).all()
    with pytest.raises(ValueError, match="target_rows"):
        stream_rank(queries, iter_blocks(gallery, 100), targets=targets)


def test_wrong_target_rows_are_caught_not_miscounted() -> None:
    gallery = _embeddings(300, 16, 8)
    queries = _embeddings(5, 16, 9)
    targets = torch.arange(5)
    with pytest.raises(StageError, match="error bound"):
        stream_rank(queries, gallery, targets=targets, target_rows=gallery[targets] + 1e-3)


def test_rerank_counts_match_a_brute_force_coarse_to_fine_order() -> None:
    rng = np.random.default_rng(10)
    n_q, n_g, k = 60, 200, 15
    coarse, fine = rng.normal(size=(n_q, n_g)), rng.normal(size=(n_q, n_g))
    targets = rng.integers(0, n_g, n_q)
    coarse[np.arange(n_q), targets] += 1.5
    top = top_indices(coarse, k)
    counts = rank_counts(coarse, targets)
    got = rerank_counts(
        counts,
        coarse[np.arange(n_q), targets],
        np.take_along_axis(coarse, top, 1),
        top,
        np.take_along_axis(fine, top, 1),
        targets,
    )
    for i in range(n_q):
        rest = [j for j in np.argsort(-coarse[i]) if j not in set(top[i])]
        order = list(top[i][np.argsort(-fine[i, top[i]])]) + rest
        assert ranks(got, "mean")[i] == order.index(targets[i]) + 1


def test_rerank_hand_checked_tie_at_the_top_k_boundary() -> None:
    coarse = np.array([[5.0, 4.0, 4.0, 4.0, 1.0]])  # target 3 ties with 1 and 2; top-2 took 0 and 1
    counts = rank_counts(coarse, np.array([3]))
    got = rerank_counts(counts, np.array([4.0]), np.array([[5.0, 4.0]]), np.array([[0, 1]]), np.zeros((1, 2)), [3])
    # order: {0, 1} first, then 2 and 3 tied, then 4
    assert (got.greater[0], got.equal[0]) == (2, 1)


def test_block_size_and_unit_roundoff() -> None:
    assert block_size_for(10_000, 256 << 20) == 6710
    assert block_size_for(10**9) == 256
    assert unit_roundoff(torch.float32, torch.device("cpu")) == 2.0**-24
    assert unit_roundoff(torch.float16, torch.device("cpu")) == 2.0**-11
    previous = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("medium")
        assert unit_roundoff(torch.float32, torch.device("cpu")) == 2.0**-8
        with pytest.raises(ConfigError, match="too coarse"):  # bf16-like products over 512 dims: no useful bound
            stream_rank(_embeddings(4, 512, 0), _embeddings(20, 512, 1), targets=torch.arange(4))
    finally:
        torch.set_float32_matmul_precision(previous)
