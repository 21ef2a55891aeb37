"""Inference-time similarity post-processing, each explicit about which queries it uses.

A post-processor is ``fn(sim, bank_sim, **params) -> sim'`` on a (queries x gallery) matrix
and a querybank matrix (bank queries x the same gallery). It changes how each *row* ranks
the gallery, so it is applied per retrieval direction (text->video on texts x videos,
video->text on videos x texts) and its output is only comparable within a row. The
querybank should be queries that are not being evaluated (tvrkit's default: the training
split's captions). ``bank_sim=None`` means "the evaluated queries themselves": that is
transductive, and :func:`apply_postprocess` allows it only with ``transductive=True`` and
labels the result so every report can say so.

* ``dsl``: dual softmax at inference (CAMoE, Cheng et al. 2021, as run in CLIP4Clip-style
  evaluation code: ``sim * softmax(sim * T, dim=0)``), S ⊙ softmax(T·S) over the query axis,
  T = 100. With the test queries as the bank this is exactly the published form; with a
  querybank the softmax for a gallery item runs over the bank queries plus the query itself.
* ``sk``: SK-norm (UCoFiA, Wang et al. ICCV 2023, ``sinkhorn_knopp`` in its eval_t2v /
  eval_v2t ``main_ucofia.py``): 4 Sinkhorn-Knopp iterations on exp(bank) as given (no
  temperature unless one is asked for) yield per-gallery scalings b; the log-bias
  log_softmax(log b) is added to every query's scores. Computed in the log domain, which
  has the same fixed point as the multiplicative updates and cannot underflow.
* ``qb``: QB-Norm with the dynamic inverted softmax (Bogolin et al. CVPR 2022, reference
  ``dynamic_inverted_softmax.py``): gallery items that are among the top-k (k = 1) of some
  bank query are "activated"; a query whose own top-1 is activated gets, for every gallery
  item g, exp(β s_g) / Σ_bank exp(β b_g) (β = 20); other queries keep their scores. The
  normalised rows are returned as log(exp(β s) / Σ) = β s - logsumexp, which ranks a row
  identically and does not overflow.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tvrkit.errors import ConfigError, DataError

PostFn = Callable[..., np.ndarray]


def _logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    peak = np.max(x, axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)
    return np.squeeze(peak, axis=axis) + np.log(np.sum(np.exp(x - peak), axis=axis))


def identity(sim: np.ndarray, bank_sim: np.ndarray | None) -> np.ndarray:
    """No post-processing."""
    return sim


def dual_softmax(sim: np.ndarray, bank_sim: np.ndarray | None, temperature: float = 100.0) -> np.ndarray:
    """DSL: ``sim * softmax(temperature * sim)`` over the query axis (see module docstring)."""
    logits = temperature * sim
    if bank_sim is None:
        log_den = _logsumexp(logits, axis=0)[None, :]
    else:
        # the query itself joins the bank, so each weight stays in (0, 1] as in the published form
        log_den = np.logaddexp(logits, _logsumexp(temperature * bank_sim, axis=0)[None, :])
    return sim * np.exp(logits - log_den)


def sinkhorn_bias(bank_sim: np.ndarray, iters: int = 4) -> np.ndarray:
    """UCoFiA's per-gallery log-bias from a (bank x gallery) matrix of log-similarities.

    Same iteration as ``a = 1 / (K @ b); b = 1 / (a @ K)`` with K = exp(bank) and
    b0 = 1 / K.sum(0), written with logsumexp; returns ``log_softmax(log b)``.
    """
    log_b = -_logsumexp(bank_sim, axis=0)
    for _ in range(iters):
        log_a = -_logsumexp(bank_sim + log_b[None, :], axis=1)
        log_b = -_logsumexp(bank_sim + log_a[:, None], axis=0)
    return log_b - _logsumexp(log_b, axis=0)


def sk_norm(
    sim: np.ndarray, bank_sim: np.ndarray | None, iters: int = 4, temperature: float | None = None
) -> np.ndarray:
    """SK-norm: ``sim + sinkhorn_bias(bank)``; with a temperature τ both are divided by τ first."""
    scale = 1.0 if temperature is None else 1.0 / temperature
    bank = sim if bank_sim is None else bank_sim
    return sim * scale + sinkhorn_bias(bank * scale, iters)[None, :]


def qb_norm(sim: np.ndarray, bank_sim: np.ndarray | None, beta: float = 20.0, k: int = 1) -> np.ndarray:
    """QB-Norm with the dynamic inverted softmax (see module docstring)."""
    bank = sim if bank_sim is None else bank_sim
    k = min(k, bank.shape[1])
    activated = np.zeros(bank.shape[1], dtype=bool)
    activated[np.argpartition(-bank, k - 1, axis=1)[:, :k].ravel()] = True
    rows = activated[np.argmax(sim, axis=1)]
    out = sim.copy()
    out[rows] = beta * sim[rows] - _logsumexp(beta * bank, axis=0)[None, :]
    return out


POSTPROCESSORS: dict[str, PostFn] = {
    "none": identity,
    "dsl": dual_softmax,
    "sk": sk_norm,
    "qb": qb_norm,
}

# Post-processors that never look at a querybank (so they are never transductive).
BANKLESS: frozenset[str] = frozenset({"none"})


@dataclass(frozen=True)
class PostResult:
    """A post-processed matrix and what it used: ``querybank`` is None when nothing was applied,
    else ``{"source", "size", "transductive"}`` as written to metrics.json."""

    sim: np.ndarray
    querybank: dict[str, Any] | None


def apply_levels_postprocess(
    name: str,
    sims: Mapping[str, np.ndarray],
    bank_sims: Mapping[str, np.ndarray] | None,
    weights: Mapping[str, float],
    *,
    transductive: bool = False,
    bank_source: str = "querybank",
    **params: Any,
) -> PostResult:
    """Post-process each level's (queries x gallery) matrix with that level's own querybank
    scores, then sum them with ``weights`` (UCoFiA's per-level SK-norm; a method says which levels
    and weights through ``postprocess_levels``). The querybank record is the shared bank's."""
    if not weights:
        raise ConfigError("per-level post-processing needs at least one level")
    results = {
        level: apply_postprocess(name, sims[level], None if bank_sims is None else bank_sims[level],
                                 transductive=transductive, bank_source=bank_source, **params)
        for level in weights
    }
    combined = sum(weight * results[level].sim for level, weight in weights.items())
    return PostResult(np.asarray(combined), next(iter(results.values())).querybank)


def postprocess_params(name: str) -> dict[str, Any]:
    """The tunable parameters of post-processor ``name`` and their defaults."""
    sig = inspect.signature(POSTPROCESSORS[name])
    return {p.name: p.default for p in list(sig.parameters.values())[2:]}


def chosen_params(post: str, *, dsl_temperature: float, sk_iters: int, sk_temperature: float | None,
                  qb_beta: float, qb_k: int) -> dict[str, Any]:
    """Post-processor ``post``'s parameters, defaults filled in, from the flat options ``tvrkit
    metrics`` and ``tvrkit eval`` take (``--dsl-temperature``, ``post_params.sk_iters``, ...)."""
    given = {
        "none": {},
        "dsl": {"temperature": dsl_temperature},
        "sk": {"iters": sk_iters, "temperature": sk_temperature},
        "qb": {"beta": qb_beta, "k": qb_k},
    }[post]
    return {**postprocess_params(post), **given}

def apply_postprocess(
    name: str,
    sim: np.ndarray,
    bank_sim: np.ndarray | None = None,
    *,
    transductive: bool = False,
    bank_source: str = "querybank",
    **params: Any,
) -> PostResult:
    """Run post-processor ``name`` on ``sim`` with ``bank_sim`` (bank queries x gallery).

    Without a bank the evaluated queries serve as their own bank, which needs
    ``transductive=True``; the returned ``querybank`` record says which was used.
    """
    if name not in POSTPROCESSORS:
        raise ConfigError(f"unknown post-processing {name!r}; allowed: {', '.join(POSTPROCESSORS)}")
    allowed = postprocess_params(name)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ConfigError(f"post-processing {name!r} has no parameter(s) {unknown}; allowed: {sorted(allowed)}")
    if name in BANKLESS:
        return PostResult(sim, None)
    sim64 = np.asarray(sim, dtype=np.float64)
    if bank_sim is None:
        if not transductive:
            raise ConfigError(
                f"post-processing {name!r} needs a querybank (bank queries x gallery similarities); "
                "using the evaluated queries themselves is transductive and must be asked for explicitly"
            )
        record = {"source": "evaluated queries (transductive)", "size": int(sim64.shape[0]), "transductive": True}
        return PostResult(POSTPROCESSORS[name](sim64, None, **params), record)
    bank64 = np.asarray(bank_sim, dtype=np.float64)
    if bank64.ndim != 2 or bank64.shape[1] != sim64.shape[1]:
        raise DataError(f"querybank {bank_source} has shape {bank64.shape}; it needs {sim64.shape[1]} gallery columns")
    if not np.isfinite(bank64).all():
        raise DataError(f"querybank {bank_source} has non-finite scores")
    record = {"source": bank_source, "size": int(bank64.shape[0]), "transductive": False}
    return PostResult(POSTPROCESSORS[name](sim64, bank64, **params), record)
