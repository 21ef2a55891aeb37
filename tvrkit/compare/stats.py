"""Intervals over seeds: Student's t for a mean and for paired differences (pure, torch-free).

With n seeds the 95 % interval is mean +- t(0.975, n-1) * sd / sqrt(n); with one seed there is no
interval (both ends equal the value, recorded as such). The t quantiles come from the regularised
incomplete beta function inverted by bisection, so any n works without scipy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, c, d = 1e-300, 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: int) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile (0.5 < p < 1) of Student's t with ``df`` degrees of freedom."""
    lo, hi = 0.0, 1e3
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if t_cdf(mid, df) < p else (lo, mid)
    return (lo + hi) / 2


def mean_ci(values: Sequence[float], level: float = 0.95) -> dict[str, object]:
    """``{"mean", "ci95": [lo, hi], "sd", "per_seed"}`` of ``values`` (one per seed, in seed order)."""
    n = len(values)
    if n == 0:
        raise ValueError("no values")
    mean = sum(values) / n
    if n == 1:
        return {"mean": mean, "ci95": [mean, mean], "sd": None, "per_seed": list(values)}
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_quantile(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    return {"mean": mean, "ci95": [mean - half, mean + half], "sd": sd, "per_seed": list(values)}


def paired_difference(values: Sequence[float], reference: Sequence[float], level: float = 0.95) -> dict[str, object]:
    """The per-seed differences ``values - reference`` (paired: seed s is the same data order and init)
    with their mean, interval, and whether the interval excludes 0 (a difference the seeds support)."""
    if len(values) != len(reference):
        raise ValueError(f"paired seeds differ in number: {len(values)} vs {len(reference)}")
    diffs = [a - b for a, b in zip(values, reference, strict=True)]
    out = mean_ci(diffs, level)
    lo, hi = out["ci95"]  # type: ignore[misc]
    out["excludes_zero"] = len(diffs) > 1 and (lo > 0 or hi < 0)
    return out
