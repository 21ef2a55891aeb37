"""The training loop on a toy model: exact resume (mid-epoch, with accumulation and dropout),
pre-emption by SIGTERM, non-finite losses, best-checkpoint selection and the JSONL log."""

from __future__ import annotations

import pytest
import torch
from train_toy import ToyLoader, loop_config, make_trainer, weights

from tvrkit.errors import ConfigError, StageError
from tvrkit.train.checkpoint import BEST, load_training_state
from tvrkit.train.jsonlog import LOG_FILE, read_log
from tvrkit.train.loop import plan_steps
from tvrkit.train.precision import grad_scaler, resolve_precision


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)


@pytest.mark.parametrize("grad_accum", [1, 2])
def test_resume_from_a_mid_epoch_checkpoint_is_exact(tmp_path, grad_accum) -> None:
    loop = loop_config(epochs=3, grad_accum=grad_accum, save_every=1)
    full = make_trainer(tmp_path / "full", loop, batches=6)
    summary = full.fit()
    assert summary["status"] == "completed" and summary["step"] == 3 * (6 // grad_accum)
    k = 4 // grad_accum  # a step in the middle of epoch 0 or 1
    ckpt = load_training_state(full.p.checkpoints.step_path(k))
    assert ckpt["train_state"]["step"] == k and ckpt["train_state"]["batch_in_epoch"] % grad_accum == 0

    resumed = make_trainer(tmp_path / "resumed", loop, batches=6)
    resumed.load_state_dict(ckpt)
    assert resumed.fit()["steps_this_run"] == summary["step"] - k
    _assert_same(weights(full), weights(resumed))


def test_sigterm_saves_and_resume_matches_an_uninterrupted_run(tmp_path) -> None:
    loop = loop_config(epochs=2)
    full = make_trainer(tmp_path / "full", loop)
    full.fit()

    stopped = make_trainer(tmp_path / "stopped", loop, signal_at=(1, 2))
    summary = stopped.fit()
    assert summary["status"] == "interrupted" and summary["signal"] == 15
    assert summary["step"] == 5 + 3  # the batch in flight finishes, then the loop stops
    last = stopped.p.checkpoints.latest()
    assert last is not None and load_training_state(last)["train_state"]["step"] == 8
    records = read_log(tmp_path / "stopped" / LOG_FILE)
    assert records[-1]["type"] == "stop"

    resumed = make_trainer(tmp_path / "stopped", loop)
    resumed.load_state_dict(load_training_state(last))
    assert resumed.fit()["status"] == "completed"
    _assert_same(weights(full), weights(resumed))


def test_nonfinite_loss_names_the_step_and_batch(tmp_path) -> None:
    trainer = make_trainer(tmp_path, loop_config(epochs=1), nan_videos=(9,))
    with pytest.raises(StageError, match=r"non-finite loss at step 3 \(epoch 0\).*'v9'.*'v9#0'"):
        trainer.fit()


def test_nonfinite_skip_counts_and_keeps_weights_finite(tmp_path) -> None:
    trainer = make_trainer(tmp_path, loop_config(epochs=2, nonfinite="skip"), nan_videos=(9,))
    summary = trainer.fit()
    assert summary["status"] == "completed" and summary["skipped"] == 1  # batch 2 of epoch 0 only
    assert all(torch.isfinite(w).all() for w in weights(trainer).values())
    skips = [r for r in read_log(tmp_path / LOG_FILE) if r["type"] == "skip"]
    assert [s["step"] for s in skips] == [3] and "v9" in skips[0]["video_ids"]
    with pytest.raises(StageError, match="max_skipped=0"):
        make_trainer(tmp_path / "strict", loop_config(epochs=1, nonfinite="skip", max_skipped=0),
                     nan_videos=(9,)).fit()


def test_best_is_selected_on_the_validation_metric(tmp_path) -> None:
    trainer = make_trainer(tmp_path, loop_config(epochs=4, keep_last=1), metrics=[10.0, 30.0, 20.0, 25.0])
    summary = trainer.fit()
    assert summary["best"] == 30.0 and summary["best_step"] == 10
    assert load_training_state(tmp_path / "checkpoints" / BEST)["train_state"]["step"] == 10
    assert [p.name for p in trainer.p.checkpoints.step_files()] == ["step-00000020.pt"]  # keep_last=1
    evals = [r for r in read_log(tmp_path / LOG_FILE) if r["type"] == "eval"]
    assert [e["best"] for e in evals] == [True, True, False, False] and evals[0]["select_on"] == "val"


def test_log_records_loss_lr_throughput_and_data_wait(tmp_path) -> None:
    make_trainer(tmp_path, loop_config(epochs=1, log_every=2)).fit()
    train = [r for r in read_log(tmp_path / LOG_FILE) if r["type"] == "train"]
    assert [r["step"] for r in train] == [2, 4, 5]  # every 2 steps and at the end
    for r in train:
        assert r["loss"] > 0 and set(r["losses"]) == {"mse"} and r["samples_per_s"] > 0
        assert 0 <= r["data_wait"] <= 1 and set(r["lr"]) == {"backbone/decay", "backbone/no_decay", "new/decay",
                                                              "new/no_decay"}
    first, last = train[0]["lr"]["new/decay"], train[-1]["lr"]["new/decay"]
    assert train[0]["lr"]["backbone/decay"] == pytest.approx(first * 0.5) and last < first  # coef_lr, cosine
    # the rate the logged step's update used: the schedule's last update is not yet at its end value (0)
    assert 0 < last


def test_plan_steps() -> None:
    assert plan_steps(10, loop_config(epochs=3, grad_accum=3)) == (3, 9)  # the 10th batch is left out
    assert plan_steps(10, loop_config(epochs=3, steps=7)) == (10, 7)
    with pytest.raises(ConfigError, match="grad_accum"):
        plan_steps(2, loop_config(grad_accum=4))


def test_accumulation_equals_one_big_batch(tmp_path) -> None:
    """grad_accum=2 over batches of 4 trains like grad_accum=1 over the same samples in batches of 8."""
    accumulated = make_trainer(tmp_path / "a", loop_config(epochs=1, grad_accum=2), batches=6)
    big = make_trainer(tmp_path / "b", loop_config(epochs=1), batches=3)

    def merged(epoch: int, start: int):
        pairs = list(ToyLoader(6, epoch, 0))
        for i in range(start, 3):
            a, b = pairs[2 * i], pairs[2 * i + 1]
            yield {k: torch.cat([a[k], b[k]]) if torch.is_tensor(a[k]) else a[k] + b[k] for k in a}

    big.p.loader_fn = merged
    for t in (accumulated, big):
        t.p.model.drop.p = 0.0  # dropout masks would be drawn differently for 2x4 and 1x8 rows
    accumulated.fit()
    big.fit()
    _assert_same(weights(accumulated), weights(big))


def test_precision_resolution_and_cpu_bf16(tmp_path) -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_precision("auto", cpu) == "fp32" and resolve_precision("auto", cuda) == "bf16"
    assert resolve_precision("bf16", cpu) == "bf16"
    with pytest.raises(ConfigError, match="fp16 needs a CUDA"):
        resolve_precision("fp16", cpu)
    assert not grad_scaler("bf16", cpu).is_enabled()  # bf16 has fp32's range: no loss scaling
    trainer = make_trainer(tmp_path, loop_config(epochs=1))
    trainer.p.precision = "bf16"
    assert trainer.fit()["status"] == "completed"
    assert all(torch.isfinite(w).all() and w.dtype == torch.float32 for w in weights(trainer).values())
