"""A 2-process ``torchrun`` (gloo) run of the loaders: the global batch divided over the ranks
(and accumulation steps), equal batch counts per rank in training, every eval video exactly
once across ranks and workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from repo_paths import REPO, TESTS
from shard_testdata import sharded_root

SCRIPT = """
import dataclasses, json, sys
import torch.distributed as dist
from tvrkit.data.config import DataConfig
from tvrkit.data.loader import build_train_loader, build_video_loader
from tvrkit.errors import ConfigError

dist.init_process_group("gloo")
root, out = sys.argv[1:3]
result = {}
for fmt in ("wds", "lmdb"):
    # the global batch 6 divides over the 2 ranks: 3 each
    cfg = DataConfig(root=root, format=fmt, train_split="train", batch_size=6, eval_batch_size=1, workers=2,
                     max_frames=4, image_size=16)
    train = build_train_loader(cfg, 224, epoch=0)
    batches = [b["caption_ids"] for b in train]
    videos = [v for b in build_video_loader(cfg, "train", 224) for v in b["video_ids"]]
    result[fmt] = {"len": len(train), "batches": batches, "videos": videos}
accumulated = build_train_loader(cfg, 224, epoch=0, grad_accum=3)
result["accum_batch"] = len(next(iter(accumulated))["caption_ids"])
try:
    build_train_loader(dataclasses.replace(cfg, batch_size=5), 224, epoch=0)
except ConfigError as exc:
    result["odd"] = str(exc)
with open(f"{out}/rank{dist.get_rank()}.json", "w") as fh:
    json.dump(result, fh)
dist.barrier()
dist.destroy_process_group()
"""


@pytest.mark.slow
def test_two_ranks_equal_batches_and_exact_eval_coverage(tmp_path):
    root = sharded_root(tmp_path / "root")
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(TESTS)]), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script),
         str(root), str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    for fmt in ("wds", "lmdb"):
        _check([r[fmt] for r in results])
    assert [r["accum_batch"] for r in results] == [1, 1], "6 = 1 per rank x 2 ranks x 3 accumulation steps"
    assert all("data.batch_size: the global batch 5 does not divide into 2 rank(s)" in r["odd"] for r in results)


def _check(ranks: list[dict]) -> None:
    assert ranks[0]["len"] == ranks[1]["len"] == len(ranks[0]["batches"]) == len(ranks[1]["batches"]) == 2
    assert all(len(b) == 3 for r in ranks for b in r["batches"])
    pairs = {c for r in ranks for b in r["batches"] for c in b}
    assert len(pairs) == 10, "every training pair is seen in the epoch (padding repeats a rank's own)"
    videos = ranks[0]["videos"] + ranks[1]["videos"]
    assert videos == ["v000", "v001", "v003", "v004", "v005"], "each eval video once, rank blocks in order"
