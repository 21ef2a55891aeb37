"""Training under damaged files: ``--resume`` with a damaged ``last.pt`` resumes from the newest
intact checkpoint and says so; when none loads, the error names every file."""

from __future__ import annotations

import json

import pytest
import torch

from tvrkit.errors import StageError
from tvrkit.runlog import read_failures
from tvrkit.train.checkpoint import LAST, CheckpointDir


def _run(tmp_path) -> CheckpointDir:
    ckpts = CheckpointDir(tmp_path, keep_last=3)
    for step in (1, 2, 3):
        ckpts.save({"step": step, "w": torch.full((4,), float(step))}, step, best=False)
    return ckpts


def test_a_truncated_last_pt_falls_back_to_the_newest_intact_step(tmp_path, caplog):
    ckpts = _run(tmp_path)
    last = ckpts.root / LAST
    with open(last, "r+b") as fh:  # damaged in place: last.pt and step 3 are one file (a hard link)
        fh.truncate(last.stat().st_size // 2)
    path, ckpt = ckpts.load_latest()
    assert path == ckpts.step_path(2) and ckpt["step"] == 2
    assert "last.pt" in caplog.text and "resuming from" in caplog.text and "step-00000002.pt" in caplog.text


def test_a_replaced_last_pt_falls_back_to_its_step_file(tmp_path):
    ckpts = _run(tmp_path)
    (ckpts.root / LAST).unlink()
    (ckpts.root / LAST).write_bytes(b"\x00" * 100)
    path, ckpt = ckpts.load_latest()
    assert path == ckpts.step_path(3) and ckpt["step"] == 3


def test_no_intact_checkpoint_names_each_file(tmp_path):
    ckpts = _run(tmp_path)
    for path in [ckpts.root / LAST, *ckpts.step_files()]:
        path.write_bytes(b"garbage")
    with pytest.raises(StageError, match=r"no checkpoint in .* loads: last\.pt: .*step-00000003\.pt"):
        ckpts.load_latest()
    assert CheckpointDir(tmp_path / "empty", 3).load_latest() is None


def test_a_full_disk_is_a_stage_error_and_keeps_the_last_checkpoint(small_tmpfs):
    ckpts = CheckpointDir(small_tmpfs, keep_last=3)
    ckpts.save({"step": 1, "w": torch.zeros(8)}, 1, best=False)
    with pytest.raises(StageError, match=r"cannot write checkpoint .*step-00000002\.pt: .*MiB free there"):
        ckpts.save({"step": 2, "w": torch.zeros(1 << 20)}, 2, best=False)  # 4 MiB on a 2 MiB disk
    assert ckpts.load_latest()[1]["step"] == 1
    assert sorted(p.name for p in ckpts.root.iterdir()) == ["last.pt", "step-00000001.pt"]  # no temporary left


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from train_data import synthetic_root

    return synthetic_root(tmp_path_factory.mktemp("faults"))


@pytest.mark.slow
def test_cli_resume_past_a_damaged_last_pt(synthetic, tmp_path):
    import subprocess
    import sys

    import yaml
    from train_data import tiny_config

    from tvrkit.train import load_train_config, run_train

    doc = tiny_config(synthetic, train={"steps": 4, "epochs": None, "save_every": 2, "select_on": "none"})
    run_train(load_train_config(base=doc), tmp_path / "run")
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(doc))
    last = tmp_path / "run" / "checkpoints" / LAST
    with open(last, "r+b") as fh:  # also damages step 4, its hard link
        fh.truncate(last.stat().st_size // 3)
    done = subprocess.run([sys.executable, "-m", "tvrkit", "train", "--config", str(tmp_path / "cfg.yaml"),
                           "--out", str(tmp_path / "run"), "--resume"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "resuming from" in done.stderr and "step-00000002.pt" in done.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["steps_this_run"] == 2 and summary["skipped_samples"] == 0


@pytest.mark.slow
def test_a_quietly_damaged_frame_is_skipped_recorded_and_counted(synthetic, tmp_path):
    import shutil

    from shard_testdata import quietly_damaged
    from train_data import tiny_config

    from tvrkit.shards.formats.base import get_format
    from tvrkit.shards.manifest import read_manifest
    from tvrkit.train import load_train_config, run_train

    root = tmp_path / "root"
    shutil.copytree(synthetic, root, ignore=shutil.ignore_patterns("compressed"))
    split = root / "shards" / "wds" / "train"
    shard = split / read_manifest(split)["shards"][0]["file"]
    data = shard.read_bytes()
    frames = [e for e in get_format("wds").entries(shard, True) if e.frame is not None]
    damaged = {frames[0].video_id}
    for entry in frames:  # every frame of one video: whichever frames are sampled, it is unreadable
        if entry.video_id in damaged:
            data = data.replace(entry.data, quietly_damaged(entry.data), 1)
    shard.write_bytes(data)
    cfg = load_train_config(base=tiny_config(root, data={"verify_frames": True},
                                             train={"epochs": 1, "select_on": "none"}))
    summary = run_train(cfg, tmp_path / "run")
    records = read_failures(tmp_path / "run", "train")
    assert summary["skipped_samples"] == len(damaged) == len(records) and summary["skipped"] == 0
    assert {r["item"] for r in records} == damaged and all("Corrupt JPEG" in r["error"] for r in records)
