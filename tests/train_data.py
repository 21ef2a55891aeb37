"""A tiny real synthetic dataset for the trainer tests (16 videos, seed 6: 8 train, 4 val and
4 test videos, 3 captions each), compressed small and sharded, plus a matching train config
(24 training captions: 3 batches of 8 per epoch in one process), and a ``tvrkit train`` process
started and caught after its first step."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from repo_paths import REPO

VIDEOS, SEED = 16, 6


def synthetic_root(root: Path, formats: tuple[str, ...] = ("wds",)) -> Path:
    """Generate, compress (64 px short side: the tiny model reads 32 px) and shard."""
    from tvrkit.media.compress import CompressConfig
    from tvrkit.prepare import PrepareConfig, run_prepare
    from tvrkit.shards.config import ShardConfig
    from tvrkit.shards.stage import run_shard

    run_prepare(PrepareConfig(dataset="synthetic", root=str(root), videos=VIDEOS, seed=SEED,
                              compress=CompressConfig(size=64, workers=2)))
    for fmt in formats:
        run_shard(ShardConfig(root=str(root), format=fmt, workers=2, shard_multiple=2))
    return root


def tiny_config(root: Path, **sections: dict[str, Any]) -> dict[str, Any]:
    """A train config dict for the tiny model on ``root``; ``sections`` update its sections."""
    doc: dict[str, Any] = {
        "data": {"root": str(root), "format": "wds", "val_split": "val", "max_frames": 4, "frame_rate": 2.0,
                 "batch_size": 8, "eval_batch_size": 3, "workers": 0},
        "model": {"method": "clip4clip", "backbone": {"arch": "tvrkit-tiny"}},
        # from scratch, higher learning rates first collapse every embedding onto one point
        "optim": {"lr": 3e-4, "coef_lr": 1.0, "warmup": 2},
        "train": {"epochs": 2, "progress": False, "log_every": 1},
    }
    for name, values in sections.items():
        doc[name] = {**doc.get(name, {}), **values}
    return doc


def train_past_first_step(config: Path, out: Path, env: dict[str, str]) -> tuple[subprocess.Popen, list[str]]:
    """Start ``tvrkit train --config CONFIG --out OUT`` and return (the process, its command) once it
    has logged a step (or after 120 s): the moment a test interrupts it."""
    from tvrkit.train.jsonlog import LOG_FILE, read_log

    cmd = [sys.executable, "-m", "tvrkit", "train", "--config", str(config), "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline and not any(r.get("step", 0) >= 1 for r in read_log(out / LOG_FILE)):
        time.sleep(0.02)
    return proc, cmd
