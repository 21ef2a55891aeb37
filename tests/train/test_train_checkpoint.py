"""Checkpoints: random states round-trip, atomic writes, last/best, keep-last-K, and loading
without running pickled code."""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest
import torch

from tvrkit.train.checkpoint import (
    BEST,
    LAST,
    CheckpointDir,
    capture_rng,
    load_training_state,
    restore_rng,
    seed_everything,
)


def _draws() -> tuple[float, float, list[float]]:
    return random.random(), float(np.random.rand()), torch.rand(3).tolist()


def test_rng_round_trip_through_a_checkpoint(tmp_path) -> None:
    seed_everything(7)
    _draws()
    state = capture_rng()
    expected = _draws()
    torch.save({"rng": state}, tmp_path / "rng.pt")
    seed_everything(123)
    restore_rng(load_training_state(tmp_path / "rng.pt")["rng"])  # weights_only: plain types and tensors only
    assert _draws() == expected


def _state(value: float) -> dict:
    return {"model": {"w": torch.full((2,), value)}, "train_state": {"step": int(value)}}


def test_keep_last_and_last_best_links(tmp_path) -> None:
    ckpts = CheckpointDir(tmp_path, keep_last=2)
    assert ckpts.latest() is None and not ckpts.exists()
    for step in (1, 2, 3, 4):
        ckpts.save(_state(step), step, best=step == 2)
    assert [p.name for p in ckpts.step_files()] == ["step-00000003.pt", "step-00000004.pt"]
    assert load_training_state(ckpts.latest())["train_state"]["step"] == 4
    assert ckpts.latest().name == LAST
    # best survives the pruning of its step file
    assert load_training_state(tmp_path / "checkpoints" / BEST)["train_state"]["step"] == 2
    ckpts.mark_best(4)
    assert load_training_state(tmp_path / "checkpoints" / BEST)["train_state"]["step"] == 4
    assert not [p for p in (tmp_path / "checkpoints").iterdir() if p.name.startswith(".")]  # no temp leftovers


def test_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch) -> None:
    ckpts = CheckpointDir(tmp_path, keep_last=3)
    ckpts.save(_state(1), 1, best=True)

    def broken_save(obj, f):
        with open(f, "wb") as fh:
            fh.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        ckpts.save(_state(2), 2, best=True)
    assert load_training_state(ckpts.latest())["train_state"]["step"] == 1
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] and all(
        not p.name.startswith(".") and p.name != "step-00000002.pt" for p in (tmp_path / "checkpoints").iterdir())


def test_loading_refuses_pickled_code(tmp_path) -> None:
    torch.save({"evil": _state}, tmp_path / "bad.pt")  # a function is not plain data
    with pytest.raises(pickle.UnpicklingError):
        load_training_state(tmp_path / "bad.pt")
