"""Training curves: the panels drawn from train_log.jsonl, curves.png written atomically, TensorBoard's
event files (read back with TensorBoard's own reader, purged after a resume's step), and a real run
that names its curves in summary.json and whose eval report shows them."""

from __future__ import annotations

import json
import math
import struct

import pytest

from tvrkit.errors import ConfigError
from tvrkit.train.curves import CURVES_FILE, CurvesLog, curve_series, run_curves, train_scalars, write_curves


def _train(step, loss, grad=1.0, **extra):
    return {"type": "train", "step": step, "epoch": 0, "loss": loss, "losses": {"global": loss},
            "lr": {"head": 1e-4, "backbone": 1e-7}, "grad_norm": grad, "samples_per_s": 10.0, "data_wait": 0.1,
            **extra}


def _eval(step, r1):
    return {"type": "eval", "step": step, "split": "val", "metrics": {"R@1": r1, "R@5": 2 * r1, "videos": 4.0}}


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_series_of_each_panel():
    records = [{"type": "start", "step": 0}, _train(1, 3.0, grad_norm_backbone=0.5, grad_norm_head=2.0),
               _train(2, 2.5, grad=math.nan), _eval(2, 25.0), {"type": "checkpoint", "step": 2}]
    panels = curve_series(records)
    assert panels["loss"] == {"total": [(1, 3.0), (2, 2.5)]}  # one level: no separate "global" line
    assert panels["lr"] == {"head": [(1, 1e-4), (2, 1e-4)], "backbone": [(1, 1e-7), (2, 1e-7)]}
    # a skipped step's non-finite norm is left out; the per-part norms are drawn when logged
    assert panels["grad_norm"] == {"total": [(1, 1.0)], "backbone": [(1, 0.5)], "head": [(1, 2.0)]}
    assert panels["val"] == {"val t2v R@1": [(2, 25.0)]}
    two_levels = _train(3, 2.0, losses={"global": 1.5, "frame": 0.5})
    assert set(curve_series([two_levels])["loss"]) == {"total", "global", "frame"}
    # a model's parts: the total again and its temperature are not loss lines; groups sharing a rate share a line
    clip4clip = _train(4, 2.0, losses={"loss": 2.0, "logit_scale/video_sentence": 14.3, "video_sentence": 2.0},
                       lr={"new/decay": 1e-4, "new/no_decay": 1e-4, "backbone/decay": 1e-7})
    panels = curve_series([clip4clip])
    assert panels["loss"] == {"total": [(4, 2.0)]}
    assert panels["lr"] == {"new/decay, new/no_decay": [(4, 1e-4)], "backbone/decay": [(4, 1e-7)]}


def test_tensorboard_tags():
    tags = train_scalars(_train(5, 2.0, grad_norm_head=0.25, losses={"loss/cdcl": 0.5, "logit_scale": 50.0}))
    assert tags["loss/total"] == 2.0 and tags["loss/cdcl"] == 0.5 and tags["logit_scale"] == 50.0
    assert tags["lr/backbone"] == 1e-7 and tags["throughput/samples_per_s"] == 10.0
    assert tags["grad_norm/total"] == 1.0 and tags["grad_norm/head"] == 0.25 and "grad_norm/backbone" not in tags
    assert train_scalars(_eval(5, 40.0)) == {"val/R@1": 40.0, "val/R@5": 80.0}
    assert train_scalars({"type": "checkpoint", "step": 5}) == {}


def test_write_curves(tmp_path):
    assert write_curves(tmp_path) is None  # no log yet
    log = tmp_path / "train_log.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in [_train(s, 3.0 / s) for s in range(1, 6)]) + '{"cut')
    path = write_curves(tmp_path)
    assert path == tmp_path / CURVES_FILE and _png_size(path) == (1100, 700)
    assert sorted(p.name for p in tmp_path.iterdir()) == [CURVES_FILE, "train_log.jsonl"]  # no temporary left


def test_log_redraws_curves_after_each_validation(tmp_path):
    log = CurvesLog(tmp_path / "train_log.jsonl", enabled=True)
    log.write(_train(1, 3.0))
    assert not (tmp_path / CURVES_FILE).exists()
    log.write(_eval(1, 10.0))
    first = (tmp_path / CURVES_FILE).read_bytes()
    log.write(_train(2, 2.0))
    assert log.close() == tmp_path / CURVES_FILE and (tmp_path / CURVES_FILE).read_bytes() != first
    other_rank = CurvesLog(tmp_path / "rank1" / "train_log.jsonl", enabled=False)
    other_rank.write(_eval(1, 10.0))
    assert other_rank.close() is None and not (tmp_path / "rank1").exists()


@pytest.mark.slow
def test_tensorboard_events_and_resume_purge(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    log = CurvesLog(tmp_path / "train_log.jsonl", enabled=True, tensorboard=True)
    for step in (1, 2, 3):
        log.write(_train(step, 4.0 - step))
    log.write(_eval(3, 30.0))
    log.close()
    resumed = CurvesLog(tmp_path / "train_log.jsonl", enabled=True, tensorboard=True)
    resumed.truncate_after(1)  # the checkpoint was at step 1: steps 2 and 3 are trained again
    resumed.write(_train(2, 1.5))
    resumed.close()
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("loss/total")] == [(1, 3.0), (2, 1.5)]
    assert [e.step for e in events.Scalars("val/R@1")] == []  # purged with step 3
    assert {"lr/head", "lr/backbone", "grad_norm/total"} <= set(events.Tags()["scalars"])


def test_tensorboard_without_the_package_is_a_config_error(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    with pytest.raises(ConfigError, match=r"tvrkit\[tensorboard\]"):
        CurvesLog(tmp_path / "train_log.jsonl", enabled=True, tensorboard=True)


def test_run_curves_of_a_checkpoint(tmp_path):
    ckpt = tmp_path / "run" / "checkpoints" / "best.pt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"")
    assert run_curves(ckpt) is None
    (tmp_path / "run" / CURVES_FILE).write_bytes(b"png")
    assert run_curves(ckpt) == tmp_path / "run" / CURVES_FILE
    assert run_curves(tmp_path / "official.bin") is None


@pytest.mark.slow
def test_a_run_draws_its_curves_and_eval_shows_them(tmp_path, one_thread):
    pytest.importorskip("tensorboard")
    from train_data import synthetic_root, tiny_config

    from tvrkit.eval.config import load_eval_config
    from tvrkit.eval.run_eval import run_eval
    from tvrkit.train import load_train_config, run_train

    root = synthetic_root(tmp_path / "data")
    cfg = load_train_config(base=tiny_config(root, train={"tensorboard": True}))
    summary = run_train(cfg, tmp_path / "run")
    run = tmp_path / "run"
    assert summary["curves"] == str(run / CURVES_FILE)
    assert json.loads((run / "summary.json").read_text())["curves"] == summary["curves"]
    assert _png_size(run / CURVES_FILE) == (1100, 700)
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    run_eval(load_eval_config(None, ["report.samples=2"], {"checkpoint": str(run / "checkpoints" / "best.pt"),
                                                           "out": str(tmp_path / "eval")}))
    assert "Training curves of the checkpoint&#x27;s run" in (tmp_path / "eval" / "report.html").read_text()
