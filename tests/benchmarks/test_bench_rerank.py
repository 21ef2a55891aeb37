"""The re-ranking benchmarks (coarse-to-fine with DRL, EERCF's two stages) at toy sizes: both rankings
run in fresh processes over the same stores, and the report states the re-ranking's ceiling."""

from __future__ import annotations

import pytest

from benchmarks import coarse_fine, eercf


def _check(result: dict, fast: str, full: str, videos: int, k: int) -> None:
    runs = result["runs"]
    assert runs[fast]["k"] == k and runs[full]["k"] == videos
    for run in runs.values():
        assert run["seconds"] > 0 and run["peak_rss_mib"] > 0
    # a text whose video is outside the global top K cannot be re-ranked to it
    assert runs[fast]["metrics"]["R@1"] <= runs[fast]["ceiling"] + 1e-9
    assert runs[full]["ceiling"] == pytest.approx(100.0)
    # both rankings start from the same global stage
    assert runs[fast]["global_metrics"] == runs[full]["global_metrics"]


@pytest.mark.slow
def test_coarse_fine_benchmark_reports_the_ceiling():
    result = coarse_fine.run_benchmark(coarse_fine.Case(videos=120, texts=60, k=10))
    _check(result, "coarse-to-fine", "full fine", 120, 10)
    text = coarse_fine.report(result)
    assert "| coarse-to-fine | 10 |" in text and "| global level only |" in text
    assert "have their video in the global top 10" in text


@pytest.mark.slow
def test_eercf_benchmark_reports_the_ceiling():
    result = eercf.run_benchmark(eercf.Case(videos=120, texts=30, k=10))
    _check(result, "two-stage", "every pair by total", 120, 10)
    assert "have their video in the global top 10" in eercf.report(result)
