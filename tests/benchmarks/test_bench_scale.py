"""The scale benchmark's arithmetic: seconds per video per phase, large-over-small ratios,
peak RSS ratios, and the report naming each figure."""

from __future__ import annotations

import pytest

from benchmarks.scale import PHASES, format_report, summarise


def _run(videos: int, seconds: tuple[float, float, float], rss: float, child: float) -> dict:
    run = {"videos": videos, "load_average": 1.0}
    for phase, s in zip(PHASES, seconds, strict=True):
        run[phase] = {"seconds": s, "rss_mib": rss, "children_rss_mib": child}
    return run


def test_summarise_divides_by_videos_and_compares_large_to_small():
    result = summarise([_run(200, (20.0, 10.0, 4.0), 800.0, 900.0), _run(2000, (210.0, 100.0, 30.0), 820.0, 900.0)])
    assert result["per_video"][200]["prepare"] == pytest.approx(0.1)
    assert result["per_video"][2000]["total"] == pytest.approx(0.17)
    assert result["ratios"]["prepare"] == pytest.approx(1.05)
    assert result["ratios"]["loader"] == pytest.approx(0.75)
    assert result["ratios"]["total"] == pytest.approx(0.17 / 0.17)
    assert result["ratios"]["rss"] == pytest.approx(820 / 800) and result["ratios"]["children_rss"] == 1.0
    report = format_report({"clip": "a clip", "workers": 2, **result})
    assert "| 2,000 | 105.0 | 50.0 | 15.0 | 170.0 | 820 / 820 / 820 | 900 | 1.0 |" in report
    assert "prepare 1.05x" in report and "total 1.00x (target <= 1.1x)" in report
