"""The compression benchmark runs end to end on tiny inputs and reports both timings."""

from __future__ import annotations

import pytest

from benchmarks import REAL_CLIP
from benchmarks.compress import CompressBenchConfig, format_report, main, run_compress_bench


def test_compress_bench_reports_floor_compress_and_ratio(capsys):
    result = run_compress_bench(CompressBenchConfig(videos=2, width=64, height=48, duration=1.0, fps=10, workers=1,
                                                    repeats=1, source="testsrc"))
    assert result["floor_seconds"] > 0 and result["compress_seconds"] > 0
    assert result["ratio"] == pytest.approx(result["compress_seconds"] / result["floor_seconds"], rel=0.02)
    assert result["floor_cpu_seconds"] > 0 and result["cpu_ratio"] > 0
    assert result["workers"] == 1 and result["ffmpeg"].startswith("ffmpeg version")
    report = format_report(result)
    assert "decode-only floor" in report and f"{result['ratio']:.2f}x" in report
    assert result["source"].startswith("testsrc2 to 64x48 10 fps")
    main(["--videos", "1", "--width", "32", "--height", "32", "--duration", "0.5", "--repeats", "1",
          "--source", "testsrc"])
    assert "ffmpeg -i IN -f null -" in capsys.readouterr().out


@pytest.mark.shared
def test_compress_bench_sources_from_the_real_clip(shared_fixtures):
    if not REAL_CLIP.is_file():
        pytest.skip(f"{REAL_CLIP} not present")
    result = run_compress_bench(CompressBenchConfig(videos=2, width=128, height=72, duration=1.0, fps=10, workers=1,
                                                    repeats=1, source="real"))
    assert result["source"].startswith("real MSR-VTT clip video7500.mp4 upscaled to 128x72 10 fps 1 s")
    assert result["compress_seconds"] > 0 and result["cpu_ratio"] > 0
