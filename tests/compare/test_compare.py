"""``tvrkit compare``: the interval arithmetic, which runs a comparison makes, and the whole command
on a toy budget (every run an ordinary train + eval, a re-run skipping what is finished)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from tvrkit.compare.config import CompareConfig
from tvrkit.compare.protocol import recipe_variants, row_config, select_variants
from tvrkit.compare.stats import mean_ci, paired_difference, t_cdf, t_quantile
from tvrkit.errors import ConfigError


@pytest.mark.parametrize(("df", "expected"), [(1, 12.7062), (2, 4.3027), (4, 2.7764), (10, 2.2281), (30, 2.0423)])
def test_t_quantiles_match_the_tables(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=2e-4)
    assert t_cdf(t_quantile(0.975, df), df) == pytest.approx(0.975, abs=1e-9)


def test_mean_interval_and_paired_difference():
    ci = mean_ci([40.0, 42.0, 44.0])
    half = 4.3027 * 2.0 / math.sqrt(3)
    assert ci["mean"] == pytest.approx(42.0)
    assert ci["ci95"] == pytest.approx([42.0 - half, 42.0 + half], abs=1e-3)
    assert ci["per_seed"] == [40.0, 42.0, 44.0]
    assert mean_ci([7.0])["ci95"] == [7.0, 7.0]  # one seed: no interval
    # a constant improvement on every paired seed is supported; a noisy one of the same mean is not
    assert paired_difference([41.0, 43.0, 45.0], [40.0, 42.0, 44.0])["excludes_zero"] is True
    noisy = paired_difference([44.0, 40.0, 45.0], [40.0, 42.0, 44.0])
    assert noisy["mean"] == pytest.approx(1.0) and noisy["excludes_zero"] is False
    with pytest.raises(ValueError):
        paired_difference([1.0], [1.0, 2.0])


def test_every_shipped_recipe_is_a_row_and_methods_select_them():
    cfg = CompareConfig(base="demo")
    variants = recipe_variants(cfg)
    names = {v.name for v in variants}
    assert {"clip4clip-meanp", "clip4clip-seqtransf", "xpool", "drl", "ucofia", "eercf", "vscha", "hmmc"} <= names
    picked = select_variants(CompareConfig(base="demo", methods=("clip4clip", "xpool")), variants)
    assert [v.name for v in picked] == ["clip4clip-meanp", "clip4clip-seqtransf", "xpool"]
    with pytest.raises(ConfigError, match="names no shipped recipe"):
        select_variants(CompareConfig(base="demo", methods=("nosuchmethod",)), variants)


def test_a_row_takes_the_method_from_its_recipe_and_the_rest_from_the_base():
    cfg = CompareConfig(base="demo")
    base = {"data": {"root": "r", "max_frames": 4, "max_words": 16}, "model": {"backbone": {"arch": "tvrkit-tiny"}},
            "optim": {"lr": 1e-3}, "train": {"steps": 3}, "out": "x"}
    ucofia = next(v for v in recipe_variants(cfg) if v.name == "ucofia")
    doc, aligned = row_config(cfg, base, ucofia)
    assert doc["model"]["method"] == "ucofia"
    assert doc["model"]["backbone"] == {"arch": "tvrkit-tiny"}  # the protocol's backbone, not ViT-B-32
    assert doc["data"] == base["data"] and doc["optim"] == {"lr": 1e-3} and "out" not in doc
    assert doc["model"]["ucofia"]["max_frames"] == 4 and doc["model"]["ucofia"]["max_words"] == 16
    assert sorted(aligned) == ["model.ucofia.max_frames", "model.ucofia.max_words"]
    doc, _ = row_config(CompareConfig(base="demo", recipe_optim=True), base, ucofia)
    assert doc["optim"]["type"] == "bertadam"


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory) -> Path:
    from train_data import synthetic_root, tiny_config

    root = synthetic_root(tmp_path_factory.mktemp("compare"))
    doc = tiny_config(root, train={"steps": 3, "progress": False, "log_every": 1, "threads": 1},
                      data={"val_split": None}, optim={"warmup": 1})
    doc["train"].pop("epochs")
    doc["train"]["select_on"] = "none"
    path = root / "base.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.slow
def test_compare_end_to_end_resumes_and_is_deterministic(tiny_base, tmp_path):
    from tvrkit.compare import run_compare

    cfg = CompareConfig(base=str(tiny_base), out=str(tmp_path / "cmp"), methods=("clip4clip-meanp", "xpool"),
                        seeds=2, reference="clip4clip-meanp")
    doc = run_compare(cfg)
    rows = {r["variant"]: r for r in doc["rows"]}
    assert set(rows) == {"clip4clip-meanp", "xpool"} and not doc["failed"]
    for row in rows.values():
        r1 = row["t2v_R@1"]
        assert len(r1["per_seed"]) == 2 and r1["ci95"][0] <= r1["mean"] <= r1["ci95"][1]
        assert row["train_seconds"] > 0 and row["eval_seconds"] > 0 and row["parameters"] > 0
        assert row["peak_rss_mib"] > 0 and row["ms_per_query_1k"] > 0
    assert "t2v_R@1_vs_reference" in rows["xpool"]
    out = Path(cfg.out)
    assert (out / "compare.md").read_text().count("| xpool |") == 1
    assert "data:image/png;base64," in (out / "compare.html").read_text()
    assert json.loads((out / "compare.json").read_text())["rows"] == json.loads(json.dumps(doc["rows"]))
    # a re-run skips what is finished and reports the same numbers
    before = (out / "xpool" / "seed0" / "summary.json").stat().st_mtime_ns
    again = run_compare(cfg)
    assert (out / "xpool" / "seed0" / "summary.json").stat().st_mtime_ns == before
    assert [r["t2v_R@1"]["per_seed"] for r in again["rows"]] == [r["t2v_R@1"]["per_seed"] for r in doc["rows"]]
    # one method and seed again from scratch: the same R@1 (deterministic on CPU)
    fresh = run_compare(CompareConfig(base=str(tiny_base), out=str(tmp_path / "fresh"), methods=("xpool",), seeds=1))
    assert fresh["rows"][0]["t2v_R@1"]["per_seed"][0] == rows["xpool"]["t2v_R@1"]["per_seed"][0]
