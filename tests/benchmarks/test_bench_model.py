"""Model benchmark: a tiny run produces one timed row per (architecture, method) and a table."""

from __future__ import annotations

import pytest

from benchmarks.model import ModelBenchConfig, format_report, main, run_model_bench


def test_tiny_benchmark_rows_and_table(capsys):
    cfg = ModelBenchConfig(archs=("tiny",), methods=("clip4clip", "drl"), batch_size=2, frames=2, warmup=0, iters=1)
    result = run_model_bench(cfg)
    assert [(r["arch"], r["method"]) for r in result["rows"]] == [("tiny", "clip4clip"), ("tiny", "drl")]
    assert result["rows"][1]["levels"] == ["frame_word"]
    for row in result["rows"]:
        assert 0 < row["forward_s"] <= row["step_s"] and row["samples_per_s"] == pytest.approx(2 / row["step_s"])
    table = format_report(result)
    assert "batch 2 x 2 frames" in table and len(table.splitlines()) == 4
    main(["--archs", "tiny", "--methods", "clip4clip", "--batch-size", "1", "--frames", "1", "--iters", "1"])
    assert "tiny      clip4clip" in capsys.readouterr().out


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown method"):
        run_model_bench(ModelBenchConfig(archs=("tiny",), methods=("everything",)))
