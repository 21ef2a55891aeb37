"""How the training probe (``tvrkit bench train``) combines log windows: equal-size windows, so the overall rate
is the harmonic mean and the waiting share is weighted by each window's duration."""

from __future__ import annotations

import pytest

from tvrkit.errors import StageError
from tvrkit.probe.train import format_report, measured_windows


def test_measured_windows_skip_warmup_and_weight_by_time() -> None:
    records = [
        {"type": "start", "step": 0},
        {"type": "train", "step": 5, "samples_per_s": 1.0, "data_wait": 0.9},  # warm-up: ignored
        {"type": "eval", "step": 5},
        {"type": "train", "step": 10, "samples_per_s": 100.0, "data_wait": 0.1},
        {"type": "train", "step": 15, "samples_per_s": 50.0, "data_wait": 0.4},
    ]
    got = measured_windows(records, warmup=5)
    # 2 windows of n samples take n/100 + n/50 s: 2n samples / (3n/100 s)
    assert got["samples_per_s"] == pytest.approx(200 / 3)
    assert got["data_wait"] == pytest.approx((0.1 * 1 + 0.4 * 2) / 3)
    assert got["windows"] == 2
    with pytest.raises(StageError, match="no measured"):
        measured_windows(records[:2], warmup=5)


def test_report_lists_each_format() -> None:
    row = {"samples_per_s": 123.4, "data_wait": 0.021, "batch_size": 32.0, "workers": 1.0, "seconds": 9.0}
    text = format_report({"config": {"config": "demo", "overrides": [], "steps": 30, "warmup": 5},
                          "rates": {"lmdb": row, "wds": row}})
    assert "lmdb" in text and "wds" in text and "123.4" in text and "2.1%" in text
