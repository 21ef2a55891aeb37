"""Every shipped config validates against the train schema, and every dataset pipeline
names a config that exists (a broken recipe must fail here, not after hours of prepare)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tvrkit.train import load_train_config

REPO = Path(__file__).resolve().parents[1]
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
    config = explicit.group(1) if explicit else f"tvrkit/configs/{dataset}-vit-b32.yaml"
    assert (REPO / config).is_file(), f"{path.name}: default CONFIG {config} is missing"
    assert load_train_config(REPO / config).data.root.endswith(dataset)
