"""``run_train``: assemble a run (distributed setup, model, loaders, optimizer, resume)
and hand it to the loop. Works the same in one process and under ``torchrun``; only
rank 0 writes into the run directory.

Run directory: ``config.resolved.yaml``, ``train_log.jsonl``, ``checkpoints/`` (step
files, ``last.pt``, ``best.pt``) and ``summary.json`` (written last).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tvrkit import dist
from tvrkit.config import save_resolved, to_dict
from tvrkit.data.holdout import heldout_video_ids
from tvrkit.data.streaming import resolve_root
from tvrkit.errors import ConfigError
from tvrkit.locks import output_lock
from tvrkit.runlog import write_summary
from tvrkit.train.checkpoint import CheckpointDir, seed_everything
from tvrkit.train.config import TrainConfig
from tvrkit.train.curves import CurvesLog
from tvrkit.train.init import init_model_config, load_init_weights
from tvrkit.train.inputs import check_inputs
from tvrkit.train.jsonlog import LOG_FILE
from tvrkit.train.loop import SELECTION_METRIC, Parts, Trainer, plan_steps
from tvrkit.train.optim import build_optimizer, build_scheduler
from tvrkit.train.precision import grad_scaler, prepare_model, resolve_precision
from tvrkit.train.skips import SkippedSamples

log = logging.getLogger(__name__)

SUMMARY_FILE = "summary.json"
# Keys that may change between a run and its resume without changing what is computed
# (train.init: a resumed run takes every weight from its own checkpoint).
RESUME_SAFE_KEYS = ("out", "train.progress", "train.log_every", "train.keep_last", "train.eval_every",
                    "train.save_every", "train.max_skipped", "train.threads", "data.workers", "data.eval_batch_size",
                    "train.init", "train.tensorboard")


def _flatten(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def config_changes(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Dotted keys whose value differs between a checkpoint's config and this run's."""
    a, b = _flatten(saved), _flatten(current)
    return [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def _check_resumable(saved: dict[str, Any], current: dict[str, Any], path: Path) -> None:
    changes = [c for c in config_changes(saved, current) if not c.split(":")[0].startswith(RESUME_SAFE_KEYS)]
    if changes:
        raise ConfigError(f"cannot resume {path}: the config differs from the checkpoint's in "
                          + "; ".join(changes) + " (restore those values or train into another --out)")


def _selection(cfg: TrainConfig) -> dict[str, Any]:
    split = cfg.selection_split()
    if cfg.train.select_on == "test":
        log.warning("train.select_on=test: the best checkpoint is selected on the TEST split %s; "
                    "its test metrics are optimistic, and every checkpoint and log says so", split)
    return {"select_on": cfg.train.select_on, "split": split, "metric": f"t2v {SELECTION_METRIC}"}


def _build_parts(cfg: TrainConfig, info: Any, out: Path, resolved: dict[str, Any], skips: SkippedSamples,
                 load_init: bool = True) -> tuple[Parts, Trainer]:
    from functools import partial

    from tvrkit.data.device import DeviceBatches
    from tvrkit.data.loader import build_train_loader, epoch_batches
    from tvrkit.models import build_model
    from tvrkit.train.validate import validate

    device = info.device
    if cfg.train.threads is not None:
        torch.set_num_threads(cfg.train.threads)
    seed_everything(cfg.train.seed)  # identical initial weights on every rank
    model_cfg = init_model_config(cfg.model, cfg.train.init) if cfg.train.init else cfg.model
    model = build_model(model_cfg).to(device)
    image_size = cfg.data.image_size or model.image_size
    precision = resolve_precision(cfg.train.precision, device)
    if cfg.train.init and load_init:  # a resumed run takes every weight from its checkpoint instead
        load_init_weights(model, cfg.train.init, model_cfg)
    prepare_model(model, precision)
    optimizer = build_optimizer(model, cfg.optim, backbone=model.backbone_module)
    step_module: nn.Module = model
    if info.world_size > 1:
        step_module = nn.parallel.DistributedDataParallel(
            model, device_ids=[info.local_rank] if device.type == "cuda" else None,
            find_unused_parameters=cfg.train.find_unused_parameters)

    def loader_fn(epoch: int, start_batch: int) -> Any:
        loader = build_train_loader(cfg.data, image_size, epoch, start_batch, device, accum)
        return skips.wrap(DeviceBatches(loader, device))

    split, accum = cfg.selection_split(), cfg.train.grad_accum
    batches_per_epoch = epoch_batches(build_train_loader(cfg.data, image_size, 0, 0, grad_accum=accum))
    _, total_steps = plan_steps(batches_per_epoch, cfg.train)
    parts = Parts(
        model=model, step_module=step_module, optimizer=optimizer,
        scheduler=build_scheduler(optimizer, cfg.optim, total_steps),
        scaler=grad_scaler(precision, device), precision=precision, device=device, loader_fn=loader_fn,
        batches_per_epoch=batches_per_epoch,
        validate_fn=partial(validate, model, cfg.data, split, image_size, device) if split else None,
        checkpoints=CheckpointDir(out, cfg.train.keep_last),
        log=CurvesLog(out / LOG_FILE, dist.is_main(), cfg.train.tensorboard),
        config=resolved, selection=_selection(cfg),
    )
    return parts, Trainer(parts, cfg.train)


def run_train(cfg: TrainConfig, out_dir: str | os.PathLike[str] | None = None, resume: bool = False) -> dict[str, Any]:
    """Train ``cfg`` into ``out_dir`` (default ``cfg.out``); with ``resume``, continue from the
    run's ``last.pt`` if there is one. Returns the summary (also written to ``summary.json``)."""
    out = Path(out_dir if out_dir is not None else cfg.out)
    cfg = dataclasses.replace(cfg, out=str(out))
    resolved = to_dict(cfg)
    cfg = dataclasses.replace(cfg, data=resolve_root(cfg.data))  # a URL root: its local mirror
    checkpoints = CheckpointDir(out, cfg.train.keep_last)
    if checkpoints.exists() and not resume:
        raise ConfigError(f"{out} already holds a run's checkpoints: pass --resume to continue it, "
                          "or train into another --out")
    # rank 0 writes the run, so it alone holds the run's write lock (torchrun sets RANK)
    with output_lock(out, "train") if os.environ.get("RANK", "0") == "0" else contextlib.nullcontext():
        return _train(cfg, out, resolved, checkpoints, resume)


def _train(cfg: TrainConfig, out: Path, resolved: dict[str, Any], checkpoints: CheckpointDir,
           resume: bool) -> dict[str, Any]:
    info = dist.init_distributed()
    try:
        t0 = time.perf_counter()
        check_inputs(cfg, info.world_size)
        skips = SkippedSamples(out, dist.is_main(), resume)
        # on CPU first: random states must stay CPU tensors; load_state_dict moves the rest
        latest, ckpt = (checkpoints.load_latest() if resume else None) or (None, None)
        parts, trainer = _build_parts(cfg, info, out, resolved, skips, load_init=latest is None)
        if latest is not None:
            _check_resumable(ckpt["config"], resolved, latest)
            if ckpt["world_size"] != info.world_size:
                raise ConfigError(f"cannot resume {latest} on {info.world_size} rank(s): it was written by "
                                  f"{ckpt['world_size']}, and the global batch, epoch length and schedule depend on it")
            trainer.load_state_dict(ckpt)
            parts.log.truncate_after(trainer.state.step)
            log.info("resumed %s at step %d (epoch %d, batch %d)", latest, trainer.state.step,
                     trainer.state.epoch, trainer.state.batch_in_epoch)
        elif resume:
            log.warning("--resume: no checkpoint in %s, starting from scratch", out)
        if dist.is_main():
            save_resolved(cfg, out)
            parts.log.write({"type": "start", "step": trainer.state.step, "world_size": info.world_size,
                             "device": str(info.device), "precision": parts.precision,
                             "total_steps": trainer.total_steps, "resumed_from": str(latest) if latest else None,
                             "init": cfg.train.init, **parts.selection})
        result = trainer.fit()
        result["skipped_samples"] = skips.finish()  # unreadable items; "skipped" counts non-finite steps
        curves = parts.log.close()  # the final curves.png on rank 0 (and TensorBoard's events flushed)
        summary = {"stage": "train", "ok": result["steps_this_run"], "skipped": result["skipped"], "failed": 0,
                   "seconds": time.perf_counter() - t0, "rank": info.rank, "world_size": info.world_size, **result,
                   "checkpoint": str(checkpoints.latest()), "curves": str(curves) if curves else None,
                   "config": resolved,
                   "val_from_train": list(heldout_video_ids(cfg.data)) or None,
                   "versions": {"torch": torch.__version__}}
        if dist.is_main():
            write_summary(out / SUMMARY_FILE, summary)
        return summary
    finally:
        dist.cleanup()
