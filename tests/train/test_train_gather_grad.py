"""The gather rule end to end: one step of CLIP4Clip meanP on the tiny model through ``tvrkit train``,
1 rank against 2 gloo ranks under ``torchrun`` with the same global batch, read back from
``train_log.jsonl`` (gradient norms before clipping). ``full`` gives every parameter the same
gradient on any number of ranks; ``local`` (the official AllGather) halves the CLIP towers' gradient
on 2 ranks and leaves the head's (the logit scale) whole."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from repo_paths import REPO
from train_data import synthetic_root, tiny_config

from tvrkit.train.jsonlog import LOG_FILE, read_log

REPO = REPO
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}


def _norms(root: Path, tmp_path: Path, name: str, ranks: int, rule: str) -> dict[str, float]:
    doc = tiny_config(root, data={"val_split": None, "batch_size": 8},
                      model={"method": "clip4clip", "backbone": {"arch": "tvrkit-tiny"},
                             "clip4clip": {"temporal": {"type": "meanP"}}},  # no pre-gather head parameters
                      train={"steps": 1, "epochs": None, "select_on": "none", "gather_grad": rule})
    config = tmp_path / f"{name}.yaml"
    config.write_text(yaml.safe_dump(doc))
    out = tmp_path / name
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(ranks)] if ranks > 1 else []
    done = subprocess.run([sys.executable, *launcher, "-m", "tvrkit", "train", "--config", str(config), "--out",
                           str(out)], cwd=REPO, env=ONE_THREAD, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (record,) = [r for r in read_log(out / LOG_FILE) if r["type"] == "train"]
    assert record["rank_batches"] == [1] * ranks
    return record


@pytest.mark.slow
def test_one_step_on_two_ranks_full_matches_one_rank_and_local_halves_the_towers(tmp_path):
    root = synthetic_root(tmp_path / "synthetic")
    one = _norms(root, tmp_path, "one", 1, "full")
    full = _norms(root, tmp_path, "full", 2, "full")
    local = _norms(root, tmp_path, "local", 2, "local")
    assert one["grad_norm_backbone"] > 0 and one["grad_norm_head"] > 0
    assert full["loss"] == pytest.approx(one["loss"], rel=1e-5)  # the same global batch
    for key in ("grad_norm_backbone", "grad_norm_head", "grad_norm"):
        assert full[key] == pytest.approx(one[key], rel=2e-3), key
    assert local["grad_norm_backbone"] == pytest.approx(0.5 * one["grad_norm_backbone"], rel=2e-3)
    assert local["grad_norm_head"] == pytest.approx(one["grad_norm_head"], rel=2e-3)
