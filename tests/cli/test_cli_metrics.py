"""``tvrkit metrics`` end to end: report files, schema, exit codes, missing videos and the
transductive label, through click's CliRunner and through ``tvrkit.cli.main``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tvrkit.cli import cli, main
from tvrkit.config.schema import validate_document
from tvrkit.eval.config import MetricsConfig
from tvrkit.eval.run_metrics import run_metrics
from tvrkit.retrieval.metrics import summarize, t2v_problem


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    """A 40-caption x 10-video matrix (4 captions per video) with its map and a querybank."""
    rng = np.random.default_rng(0)
    video_of_text = [i % 10 for i in range(40)]
    sim = rng.normal(size=(40, 10)).astype(np.float32)
    sim[np.arange(40), video_of_text] += 1.5
    paths = {"sim": tmp_path / "sim.npy", "map": tmp_path / "map.json", "bank": tmp_path / "bank.npy"}
    np.save(paths["sim"], sim)
    paths["map"].write_text(json.dumps(video_of_text))
    np.save(paths["bank"], rng.normal(size=(25, 10)))
    return paths


def test_cli_runner_writes_every_report(inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["metrics", "--sim", str(inputs["sim"]), "--map", str(inputs["map"]), "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "| Text→Video |" in result.output
    doc = json.loads((out / "metrics.json").read_text())
    validate_document(doc, "metrics")
    sim = np.load(inputs["sim"])
    expected = summarize(t2v_problem(sim, np.array(json.loads(inputs["map"].read_text()))).counts())
    assert doc["t2v"] == pytest.approx(expected)
    assert (doc["n_texts"], doc["n_videos"], doc["post"], doc["transductive"]) == (40, 10, "none", False)
    table = pq.read_table(out / "ranks.parquet").to_pylist()
    assert len(table) == 40 + 10
    first = table[0]
    assert first["direction"] == "t2v" and len(first["top10"]) == 10 and first["rank"] >= 1
    for png in ("recall_at_k.png", "rank_histogram.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| Direction |" in (out / "metrics.md").read_text()
    assert json.loads((out / "summary.json").read_text())["stage"] == "metrics"


def test_main_runs_post_processing_with_a_querybank(inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "sk"
    main(["-q", "metrics", "--sim", str(inputs["sim"]), "--map", str(inputs["map"]), "--post", "sk",
          "--bank-sim", str(inputs["bank"]), "--no-plots", "--out", str(out)])  # fmt: skip
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["post"] == "sk" and doc["transductive"] is False
    assert doc["protocol"]["querybank"]["t2v"]["size"] == 25
    assert doc["protocol"]["querybank"]["v2t"] is None  # no video bank: v2t reported unprocessed
    assert not (out / "recall_at_k.png").exists()


def test_transductive_use_is_labelled_everywhere(inputs: dict[str, Path], tmp_path: Path) -> None:
    doc = run_metrics(
        MetricsConfig(sim=str(inputs["sim"]), map=str(inputs["map"]), out=str(tmp_path / "dsl"), post="dsl",
                      transductive=True, plots=False)
    )  # fmt: skip
    assert doc["transductive"] is True
    assert doc["protocol"]["querybank"]["v2t"]["transductive"] is True
    assert "Transductive" in (tmp_path / "dsl" / "metrics.md").read_text()


@pytest.mark.parametrize(
    "extra",
    [
        ["--post", "sk"],  # needs --bank-sim or --transductive
        ["--post", "none", "--bank-sim", "{bank}"],  # a bank without post-processing
        ["--ties", "median"],  # click choice
        ["--dsl-temperature", "0", "--post", "dsl", "--transductive"],
    ],
)
def test_bad_arguments_exit_2(inputs: dict[str, Path], tmp_path: Path, extra: list[str]) -> None:
    extra = [e.format(bank=inputs["bank"]) for e in extra]
    with pytest.raises(SystemExit) as exc:
        main(
            ["metrics", "--sim", str(inputs["sim"]), "--map", str(inputs["map"]), "--out", str(tmp_path / "o"), *extra]
        )
    assert exc.value.code == 2


def test_non_square_matrix_needs_a_map(inputs: dict[str, Path], tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["metrics", "--sim", str(inputs["sim"]), "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    assert "--map is required" in capsys.readouterr().err


def test_missing_videos_stop_unless_allowed_then_rank_last(inputs: dict[str, Path], tmp_path: Path, capsys) -> None:
    sim = np.load(inputs["sim"]).astype(np.float64)
    sim[:, 3] = np.nan  # video 3 has no embedding
    np.save(inputs["sim"], sim)
    base = ["metrics", "--sim", str(inputs["sim"]), "--map", str(inputs["map"]), "--no-plots"]
    with pytest.raises(SystemExit) as exc:
        main([*base, "--out", str(tmp_path / "stop")])
    assert exc.value.code == 1
    assert "all-NaN columns): 3;" in capsys.readouterr().err
    assert not (tmp_path / "stop" / "metrics.json").exists()

    out = tmp_path / "allowed"
    main(["-q", *base, "--allow-missing", "--out", str(out)])
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["missing_videos"] == 1 and doc["protocol"]["missing_video_ids"] == ["3"]
    rows = pq.read_table(out / "ranks.parquet").to_pylist()
    t2v_missing = [r for r in rows if r["direction"] == "t2v" and r["target_id"] == "3"]
    assert len(t2v_missing) == 4 and all(r["rank"] == 10 for r in t2v_missing)
    assert all(r["top10"][-1] == "3" for r in rows if r["direction"] == "t2v")  # the unscored video comes last
    v2t_missing = [r for r in rows if r["direction"] == "v2t" and r["query_id"] == "3"]
    assert v2t_missing[0]["rank"] == 10 and v2t_missing[0]["top10"] == []


def test_partial_nan_is_an_error(inputs: dict[str, Path], tmp_path: Path) -> None:
    sim = np.load(inputs["sim"])
    sim[0, 0] = np.nan
    np.save(inputs["sim"], sim)
    with pytest.raises(SystemExit) as exc:
        main(["metrics", "--sim", str(inputs["sim"]), "--map", str(inputs["map"]), "--out", str(tmp_path / "o")])
    assert exc.value.code == 1


def test_help_lists_metrics_without_importing_it() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0 and "metrics" in result.output
