"""Every shipped config validates against the train schema and opens with a one-line description,
every dataset pipeline names a config that exists (a broken recipe must fail here, not after
hours of prepare), and every dataset's default is a published method's recipe."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from repo_paths import REPO

from tvrkit.train import load_train_config

REPO = REPO
CONFIGS = sorted((REPO / "tvrkit" / "configs").glob("*.yaml"))
PIPELINES = sorted(p for p in (REPO / "pipelines").glob("*.mk") if p.stem not in ("common", "real"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_validates(path):
    cfg = load_train_config(path)
    assert cfg.data.train_split and cfg.data.test_split


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.name)
def test_pipeline_default_config_exists(path):
    text = path.read_text()
    dataset = re.search(r"^DATASET := (\S+)", text, re.M).group(1)
    explicit = re.search(r"^CONFIG\s+\?= (\S+)", text, re.M)
    config = explicit.group(1) if explicit else f"tvrkit/configs/{dataset}-clip4clip-meanp-vit-b32.yaml"
    assert (REPO / config).is_file(), f"{path.name}: default CONFIG {config} is missing"
    cfg = load_train_config(REPO / config)
    assert cfg.data.root.endswith(dataset)
    assert cfg.model.method == "clip4clip" and (dataset == "synthetic" or "clip4clip" in Path(config).name)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_names_the_method_it_runs_and_describes_itself(path):
    first = path.read_text().splitlines()[0]
    assert first.startswith("# ") and len(first) <= 120, first
    method = load_train_config(path).model.method
    assert path.stem == "demo" or f"-{method}-" in path.name, f"{path.name} runs {method}"
