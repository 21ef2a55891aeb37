"""In-training validation scores: text-to-video metrics from global embeddings, with texts
whose video could not be embedded ranked last instead of dropped."""

from __future__ import annotations

import numpy as np
import pytest

from tvrkit.train.validate import t2v_metrics


def test_perfect_embeddings_and_a_missing_video() -> None:
    videos = np.eye(3, dtype=np.float32)
    texts = np.eye(3, dtype=np.float32)[[0, 1, 2, 2]]
    perfect = t2v_metrics(texts, videos, ["a", "b", "c", "c"], ["a", "b", "c"])
    assert perfect["R@1"] == 100.0 and perfect["MdR"] == 1.0

    # video "d" was unreadable: its caption counts as a miss at the last rank of a 4-video gallery
    with_missing = t2v_metrics(np.vstack([texts[:3], texts[:1]]), videos, ["a", "b", "c", "d"], ["a", "b", "c"])
    assert with_missing["R@1"] == pytest.approx(75.0)
    assert with_missing["MnR"] == pytest.approx((1 + 1 + 1 + 4) / 4)


def test_ties_count_as_expected_rank() -> None:
    videos = np.ones((4, 2), dtype=np.float32)  # every video scores the same: chance level
    texts = np.ones((4, 2), dtype=np.float32)
    got = t2v_metrics(texts, videos, ["a", "b", "c", "d"], ["a", "b", "c", "d"])
    assert got["R@1"] == pytest.approx(25.0) and got["MnR"] == pytest.approx(2.5)
