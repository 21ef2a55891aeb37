"""The data-path benchmarks on tiny generated data: the decoder and shard-option benchmarks
measure what they say."""

from __future__ import annotations

from pathlib import Path

import pytest
from shard_testdata import make_video


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> tuple[str, ...]:
    folder = tmp_path_factory.mktemp("clips")
    paths = []
    for i, seconds in enumerate((4, 5)):
        make_video(folder / "compressed" / f"c{i}.mp4", seconds, hue=90 * i)
        paths.append(str(folder / "compressed" / f"c{i}.mp4"))
    return tuple(paths)


@pytest.mark.slow
def test_decoder_bench_measures_rates_and_memory(clips):
    from benchmarks.decoders import DecoderBenchConfig, clips_of, format_report, run_decoder_bench

    assert clips_of(Path(clips[0]).parent.parent) == clips
    result = run_decoder_bench(DecoderBenchConfig(clips=clips, decoders=("pyav", "nope"), opens=6, warmup=1))
    pyav, nope = result["rows"]
    assert pyav["opens"] == 6 and pyav["frames"] == 3 * 4 + 3 * 5, "4 and 5 s at 1 fps: 4 and 5 frames, 3 opens each"
    assert len(pyav["rss_mib"]) == 7 and pyav["frames_per_s"] > 0 and pyav["frames_per_cpu_s"] > 0
    assert "error" in nope and "nope" in nope["error"], "an unusable back-end is reported, not fatal"
    assert result["winner"] == ("pyav" if pyav["flat"] else None)
    assert "nope" in format_report(result)


def test_shard_options_bench_compares_with_the_default(clips):
    from benchmarks.shard_options import ShardOptionsBenchConfig, format_report, run_shard_options_bench

    result = run_shard_options_bench(ShardOptionsBenchConfig(clips=clips, qualities=(50, 90), image_size=32,
                                                             rounds=1, repeat=1))
    rows = {(r["crop"], r["quality"]): r for r in result["rows"]}
    assert set(rows) == {("none", 50), ("none", 90), ("center", 50), ("center", 90)}
    assert rows["none", 90]["speed_vs_default"] == rows["none", 90]["bytes_vs_default"] == 1.0
    assert all(r["frames"] == 27 for r in rows.values())  # 12 + 15 frames
    # the stored 32 px square is smaller than the 64x48 frame; lower quality is smaller still
    assert rows["center", 90]["bytes_per_frame"] < rows["none", 90]["bytes_per_frame"]
    assert rows["none", 50]["bytes_per_frame"] < rows["none", 90]["bytes_per_frame"]
    assert result["sizes"] == ["64x48"] and "center" in format_report(result)
