"""Post-processing on small hand-checked matrices, against the published formulas, and the
querybank / transductive rules of apply_postprocess."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tvrkit.errors import ConfigError, DataError
from tvrkit.retrieval.postprocess import (
    POSTPROCESSORS,
    apply_postprocess,
    dual_softmax,
    postprocess_params,
    qb_norm,
    sinkhorn_bias,
    sk_norm,
)


def test_dsl_transductive_is_softmax_over_the_query_axis() -> None:
    sim = np.array([[0.9, 0.8], [0.7, 0.1]])
    e = math.exp
    expected = np.array(
        [
            [0.9 * e(9) / (e(9) + e(7)), 0.8 * e(8) / (e(8) + e(1))],
            [0.7 * e(7) / (e(9) + e(7)), 0.1 * e(1) / (e(8) + e(1))],
        ]
    )
    assert dual_softmax(sim, None, temperature=10.0) == pytest.approx(expected)


def test_dsl_with_a_querybank_normalises_over_bank_plus_query() -> None:
    sim = np.array([[0.5, 0.2]])
    bank = np.array([[0.1, 0.3], [0.4, 0.0]])
    e = math.exp
    expected = [0.5 * e(5) / (e(5) + e(1) + e(4)), 0.2 * e(2) / (e(2) + e(3) + e(0))]
    assert dual_softmax(sim, bank, temperature=10.0)[0] == pytest.approx(expected)


def test_dsl_does_not_overflow_on_logit_scale_scores() -> None:
    rng = np.random.default_rng(0)
    sim, bank = 100 * rng.uniform(-1, 1, (4, 6)), 100 * rng.uniform(-1, 1, (5, 6))
    assert np.isfinite(dual_softmax(sim, bank)).all()


def _ucofia_sinkhorn(bank: np.ndarray, iters: int = 4) -> np.ndarray:
    """UCoFiA's multiplicative iteration (eval_t2v/main_ucofia.py), returning the video log-bias."""
    m = bank.max()
    K = np.exp(bank - m)
    b = 1 / K.sum(0)
    for _ in range(iters):
        a = 1 / (K @ b)
        b = 1 / (a @ K)
    log_b = np.log(b) - m
    return log_b - np.log(np.exp(log_b).sum())


def test_sk_bias_matches_the_multiplicative_iteration() -> None:
    rng = np.random.default_rng(1)
    bank = rng.normal(size=(9, 5)) * 3
    assert sinkhorn_bias(bank) == pytest.approx(_ucofia_sinkhorn(bank))
    assert sinkhorn_bias(bank, iters=1) == pytest.approx(_ucofia_sinkhorn(bank, iters=1))


def test_sk_hand_checked_uniform_bank_and_hub() -> None:
    # all-equal bank: b = 1/2 for both videos, log_softmax -> log(1/2) each
    sim = np.array([[0.3, 0.6]])
    assert sk_norm(sim, np.zeros((3, 2))) == pytest.approx(sim + math.log(0.5))
    # a hub video (high for every bank query) gets the smallest bias and loses a close call
    bank = np.array([[2.0, 0.0, 0.1], [2.0, 0.1, 0.0], [2.0, 0.0, 0.0]])
    bias = sinkhorn_bias(bank)
    assert bias.argmin() == 0
    out = sk_norm(np.array([[0.50, 0.49, 0.0]]), bank)
    assert out.argmax() == 1


def test_sk_uses_scores_as_given_unless_a_temperature_is_asked_for() -> None:
    rng = np.random.default_rng(2)
    sim, bank = rng.normal(size=(3, 4)), rng.normal(size=(6, 4))
    assert sk_norm(sim, bank) == pytest.approx(sim + sinkhorn_bias(bank)[None, :])
    assert sk_norm(sim, bank, temperature=0.5) == pytest.approx(sim / 0.5 + sinkhorn_bias(bank / 0.5)[None, :])


def test_qb_norm_hand_checked() -> None:
    bank = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.1]])  # activates videos 0 and 1
    sim = np.array([[0.5, 0.4, 0.3], [0.1, 0.2, 0.6]])  # query 0 top-1 = video 0 (activated), query 1 = video 2
    beta = 20.0
    out = qb_norm(sim, bank, beta=beta)
    norm = [math.log(math.exp(beta * bank[0, g]) + math.exp(beta * bank[1, g])) for g in range(3)]
    assert out[0] == pytest.approx([beta * sim[0, g] - norm[g] for g in range(3)])
    assert out[1] == pytest.approx(sim[1])
    # same ranking as the reference's exp-domain exp(beta s) / sum_bank exp(beta b)
    reference = np.exp(beta * sim[0]) / np.exp(beta * bank).sum(0)
    assert (np.argsort(-out[0]) == np.argsort(-reference)).all()


def test_apply_needs_a_bank_or_the_explicit_transductive_flag() -> None:
    sim = np.array([[0.9, 0.1], [0.2, 0.7], [0.4, 0.5]])
    with pytest.raises(ConfigError, match="transductive"):
        apply_postprocess("qb", sim)
    result = apply_postprocess("dsl", sim, transductive=True)
    assert result.querybank == {"source": "evaluated queries (transductive)", "size": 3, "transductive": True}
    assert result.sim == pytest.approx(dual_softmax(sim, None))
    banked = apply_postprocess("sk", sim, np.zeros((5, 2)), bank_source="train-9k captions", transductive=True)
    assert banked.querybank == {"source": "train-9k captions", "size": 5, "transductive": False}
    assert apply_postprocess("none", sim).querybank is None


def test_apply_rejects_unknown_names_params_and_shapes() -> None:
    sim = np.zeros((2, 3))
    with pytest.raises(ConfigError, match="allowed"):
        apply_postprocess("softmax", sim)
    with pytest.raises(ConfigError, match="beta"):
        apply_postprocess("sk", sim, np.zeros((2, 3)), beta=3.0)
    with pytest.raises(DataError):
        apply_postprocess("sk", sim, np.zeros((2, 4)))
    with pytest.raises(DataError):
        apply_postprocess("qb", sim, np.full((2, 3), np.nan))


def test_registry_parameters_and_defaults() -> None:
    assert set(POSTPROCESSORS) == {"none", "dsl", "sk", "qb"}
    assert postprocess_params("dsl") == {"temperature": 100.0}
    assert postprocess_params("sk") == {"iters": 4, "temperature": None}
    assert postprocess_params("qb") == {"beta": 20.0, "k": 1}
    assert postprocess_params("none") == {}
