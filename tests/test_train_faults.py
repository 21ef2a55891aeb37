"""Training under damaged files: ``--resume`` with a damaged ``last.pt`` resumes from the newest
intact checkpoint and says so; when none loads, the error names every file."""

from __future__ import annotations

import pytest
import torch

from tvrkit.errors import StageError
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
