"""The training loop: gradient accumulation, clipping, autocast, non-finite handling,
periodic validation and checkpoints, pre-emption, the JSONL log and a progress bar.

It knows nothing about where batches, the model or metrics come from (``run_train``
assembles those), so it is unit-tested on small modules. Every rank runs the same
sequence of collectives: the decisions that must agree (stop on a signal, a non-finite
loss) are exchanged once per optimizer step, and everything else follows from the step
count, which is equal on every rank because every rank sees the same number of batches.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch import nn

from tvrkit import dist
from tvrkit.errors import ConfigError, SourceUnavailable, StageError
from tvrkit.train.checkpoint import CheckpointDir, capture_rng, restore_rng
from tvrkit.train.config import LoopConfig
from tvrkit.train.jsonlog import JsonlLog
from tvrkit.train.optim import group_lrs, trainable_parameters
from tvrkit.train.precision import autocast
from tvrkit.train.signals import StopRequest
from tvrkit.train.window import Window

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1
SELECTION_METRIC = "R@1"


@dataclasses.dataclass
class TrainState:
    """Counters and the data position: where a resumed run picks up."""

    step: int = 0  # optimizer steps done
    epoch: int = 0
    batch_in_epoch: int = 0  # micro-batches of ``epoch`` already consumed
    best: float | None = None  # best selection metric so far
    best_step: int | None = None
    skipped: int = 0  # optimizer steps skipped on a non-finite loss/gradient


@dataclasses.dataclass
class Parts:
    """What one run of the loop works with (built by ``run_train`` or a test)."""

    model: nn.Module  # the unwrapped model: saved, validated
    step_module: nn.Module  # model or its DDP wrapper: forward(tokens, frames, frame_mask) -> (loss, {name: float})
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    precision: str  # resolved: fp32 | bf16 | fp16
    device: torch.device
    loader_fn: Callable[[int, int], Iterable[dict[str, Any]]]  # (epoch, start_batch) -> batches
    batches_per_epoch: int  # micro-batches per epoch on every rank
    validate_fn: Callable[[], dict[str, float]] | None  # metrics of the selection split (all ranks)
    checkpoints: CheckpointDir
    log: JsonlLog
    config: dict[str, Any]  # the resolved config, stored in checkpoints
    selection: dict[str, Any]  # {"select_on", "split", "metric"}, stored in checkpoints and logs


def plan_steps(batches_per_epoch: int, cfg: LoopConfig) -> tuple[int, int]:
    """(optimizer steps per epoch, total optimizer steps). An epoch's last micro-batches that
    do not fill a whole accumulation are left out, so every step averages ``grad_accum`` of them."""
    per_epoch = batches_per_epoch // cfg.grad_accum
    if per_epoch < 1:
        raise ConfigError(f"train.grad_accum={cfg.grad_accum} exceeds the {batches_per_epoch} batches per epoch "
                          "on each rank: lower it or data.batch_size")
    if cfg.steps is None and cfg.epochs is None:
        raise ConfigError("train.epochs / train.steps: set one of them")
    return per_epoch, cfg.steps or cfg.epochs * per_epoch


def _to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}


def _ids(batch: dict[str, Any]) -> dict[str, list[str]]:
    return {k: list(batch[k]) for k in ("video_ids", "caption_ids") if k in batch}


class Trainer:
    """Runs :class:`Parts` for ``cfg`` from a (possibly restored) :class:`TrainState`."""

    def __init__(self, parts: Parts, cfg: LoopConfig) -> None:
        self.p = parts
        self.cfg = cfg
        self.state = TrainState()
        self.steps_per_epoch, self.total_steps = plan_steps(parts.batches_per_epoch, cfg)
        self.last_metrics: dict[str, float] | None = None
        self._window = Window()

    # -- checkpoints ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything a resume needs (collective: gathers every rank's random states)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "model": self.p.model.state_dict(),
            # the activation the backbone was built with (decided from its pretrained file)
            "quick_gelu": bool(self.p.model.backbone_module.quick_gelu),
            "optimizer": self.p.optimizer.state_dict(),
            "scheduler": self.p.scheduler.state_dict(),
            "scaler": self.p.scaler.state_dict(),
            "rng": dist.all_gather_object(capture_rng()),
            "train_state": dataclasses.asdict(self.state),
            "config": self.p.config,
            "selection": self.p.selection,
            "metrics": self.last_metrics,
            "world_size": dist.get_world_size(),
        }

    def load_state_dict(self, ckpt: dict[str, Any]) -> None:
        """Restore a checkpoint written by :meth:`state_dict` (random states last)."""
        self.p.model.load_state_dict(ckpt["model"])
        self.p.optimizer.load_state_dict(ckpt["optimizer"])
        self.p.scheduler.load_state_dict(ckpt["scheduler"])
        self.p.scaler.load_state_dict(ckpt["scaler"])
        self.state = TrainState(**ckpt["train_state"])
        self.last_metrics = ckpt.get("metrics")
        restore_rng(ckpt["rng"][dist.get_rank()])

    def _save(self, best: bool) -> None:
        state = self.state_dict()
        if dist.is_main():
            path = self.p.checkpoints.save(state, self.state.step, best=best)
            self.p.log.write({"type": "checkpoint", "step": self.state.step, "path": str(path), "best": best})

    # -- one optimizer step ----------------------------------------------------------------
    def _micro_batches(self, it: Iterator[dict[str, Any]]) -> Iterator[tuple[int, dict[str, Any]]]:
        for micro in range(self.cfg.grad_accum):
            t0 = time.perf_counter()
            batch = next(it, None)
            if batch is None:
                raise StageError(f"the loader of epoch {self.state.epoch} ended before its "
                                 f"{self.p.batches_per_epoch} batches")
            self._window.wait += time.perf_counter() - t0
            yield micro, _to_device(batch, self.p.device)

    def _train_step(self, it: Iterator[dict[str, Any]], stop: StopRequest) -> bool:
        """Forward/backward ``grad_accum`` micro-batches and step; return whether to stop now."""
        p, accum = self.p, self.cfg.grad_accum
        bad: list[dict[str, list[str]]] = []  # ids of micro-batches with a non-finite loss
        seen: list[dict[str, list[str]]] = []
        for micro, batch in self._micro_batches(it):
            # only the last micro-batch all-reduces gradients
            sync = contextlib.nullcontext() if micro == accum - 1 else _no_sync(p.step_module)
            with sync:
                with autocast(p.precision, p.device), dist.gather_grad(self.cfg.gather_grad,
                                                                       self.cfg.reference_world_size):
                    loss, parts = p.step_module(batch["tokens"], batch["frames"], batch["frame_mask"])
                p.scaler.scale(loss / accum).backward()
            seen.append(_ids(batch))
            if not torch.isfinite(loss.detach()):
                bad.append(seen[-1])
            self._window.add(float(loss.detach()), parts, len(batch["video_ids"]))
        # one exchange per step: every rank learns about signals and bad losses anywhere
        flags = dist.all_gather_object({"stop": stop.requested, "bad": bad})
        bad_anywhere = [ids for f in flags for ids in f["bad"]]
        p.scaler.unscale_(p.optimizer)
        self._window.grad_norms = grad_norms(p.model)  # before clipping: what the loss gave
        max_norm = self.cfg.clip_grad_norm or math.inf
        grad_norm = float(torch.nn.utils.clip_grad_norm_(trainable_parameters(p.model), max_norm))
        # with fp16 an inf gradient is the scaler's business (it skips the step and lowers the scale)
        bad_grad = not math.isfinite(grad_norm) and not p.scaler.is_enabled()
        if bad_anywhere or bad_grad:
            what = "loss" if bad_anywhere else f"gradient norm ({grad_norm})"
            self._nonfinite(what, bad_anywhere or [ids for f in dist.all_gather_object(seen) for ids in f])
        else:
            p.scaler.step(p.optimizer)
        p.scaler.update()
        self._window.lr = group_lrs(p.optimizer)  # the rates this update used, before the schedule advances
        p.scheduler.step()
        p.optimizer.zero_grad(set_to_none=True)
        return any(f["stop"] for f in flags)

    def _nonfinite(self, what: str, batches: list[dict[str, list[str]]]) -> None:
        step, epoch = self.state.step + 1, self.state.epoch
        videos = [v for b in batches for v in b.get("video_ids", [])]
        captions = [c for b in batches for c in b.get("caption_ids", [])]
        message = (f"non-finite {what} at step {step} (epoch {epoch}); "
                   f"video_ids: {videos}; caption_ids: {captions}")
        if self.cfg.nonfinite == "raise":
            raise StageError(message + " (set train.nonfinite=skip to skip such steps)")
        self.state.skipped += 1
        self.p.log.write({"type": "skip", "step": step, "epoch": epoch, "what": what,
                          "video_ids": videos, "caption_ids": captions})
        log.warning("skipping the update: %s", message)
        if self.state.skipped > self.cfg.max_skipped:
            raise StageError(f"{self.state.skipped} steps skipped on non-finite values "
                             f"(train.max_skipped={self.cfg.max_skipped}); last: {message}")

    # -- evaluation and logging --------------------------------------------------------------
    def _validate(self) -> bool:
        """Validate on the selection split; return whether this step is the best so far."""
        if self.p.validate_fn is None:
            return False
        t0 = time.perf_counter()
        self.p.model.eval()
        try:
            with torch.no_grad(), autocast(self.p.precision, self.p.device):
                metrics = self.p.validate_fn()
        finally:
            self.p.model.train()
        self.last_metrics = metrics
        value = metrics[SELECTION_METRIC]
        best = self.state.best is None or value > self.state.best
        if best:
            self.state.best, self.state.best_step = value, self.state.step
        self.p.log.write({"type": "eval", "step": self.state.step, "epoch": self.state.epoch, **self.p.selection,
                          "metrics": metrics, "best": best, "seconds": time.perf_counter() - t0})
        return best

    def _log_window(self) -> dict[str, Any]:
        record = self._window.reduce()
        self.p.log.write({"type": "train", "step": self.state.step, "epoch": self.state.epoch,
                          "skipped": self.state.skipped, **record})
        self._window = Window()
        return record

    # -- the loop -----------------------------------------------------------------------------
    def _due(self, every: int | None, epoch_end: bool) -> bool:
        return epoch_end if every is None else self.state.step % every == 0

    def fit(self) -> dict[str, Any]:
        """Train to ``total_steps`` or until a stop signal; return a summary of the run. When the
        data source stays away (a URL root's server), save a checkpoint to resume from and re-raise."""
        try:
            return self._fit()
        except SourceUnavailable:
            # the state is that of the last finished step; saving is collective, so a multi-rank
            # run resumes from its last periodic checkpoint (torchrun ends the other ranks)
            if dist.get_world_size() == 1:
                self._save(best=self.p.validate_fn is None)
            raise

    def _fit(self) -> dict[str, Any]:
        from tqdm import tqdm

        st, cfg = self.state, self.cfg
        start_step, t_start = st.step, time.perf_counter()
        bar = tqdm(total=self.total_steps, initial=st.step, unit="step", dynamic_ncols=True,
                   disable=None if cfg.progress and dist.is_main() else True)  # None: only on a terminal
        status = "completed"
        self.p.step_module.train()
        with StopRequest() as stop, bar:
            while st.step < self.total_steps and status == "completed":
                it = iter(self.p.loader_fn(st.epoch, st.batch_in_epoch))
                while st.step < self.total_steps:
                    stop_now = self._train_step(it, stop)
                    st.step += 1
                    st.batch_in_epoch += cfg.grad_accum
                    epoch_end = st.batch_in_epoch >= self.steps_per_epoch * cfg.grad_accum
                    if epoch_end:
                        st.epoch, st.batch_in_epoch = st.epoch + 1, 0
                    final = st.step >= self.total_steps
                    bar.update(1)
                    if st.step % cfg.log_every == 0 or final or stop_now:
                        bar.set_postfix(loss=f"{self._log_window()['loss']:.4f}", refresh=False)
                    if stop_now:
                        status = "interrupted"
                        self._save(best=self.p.validate_fn is None)
                        self.p.log.write({"type": "stop", "step": st.step, "signal": stop.signum})
                        break
                    best = self._validate() if self._due(cfg.eval_every, epoch_end) or final else False
                    if self._due(cfg.save_every, epoch_end) or final or best:
                        self._save(best=best or self.p.validate_fn is None)
                    if epoch_end:
                        break
                del it  # shut the epoch's loader workers down before the next epoch starts theirs
        dist.barrier()
        seconds = time.perf_counter() - t_start
        return {"status": status, "signal": stop.signum, "step": st.step, "total_steps": self.total_steps,
                "epoch": st.epoch, "steps_this_run": st.step - start_step, "train_seconds": seconds,
                "best": st.best, "best_step": st.best_step, "skipped": st.skipped,
                "metrics": self.last_metrics, **self.p.selection}


def grad_norms(model: nn.Module) -> dict[str, float]:
    """L2 norms of the current gradients: ``grad_norm`` (every trainable parameter),
    ``grad_norm_backbone`` (CLIP's text and image towers, CLIP's own logit scale excluded) and
    ``grad_norm_head`` (everything else, the method's logit scales included). Logged at every
    logged step, so that fp16 runs (vanishing tower gradients) and the gather rule can be diagnosed."""
    tower = {id(p) for n, p in model.backbone_module.named_parameters() if not n.endswith("logit_scale")}
    parts: dict[bool, list[torch.Tensor]] = {True: [], False: []}
    for param in trainable_parameters(model):
        if param.grad is not None:
            parts[id(param) in tower].append(param.grad.detach().float().square().sum())
    zero = torch.zeros((), device=next(model.parameters()).device)
    sums = [torch.stack(v).sum() if v else zero for v in (parts[True], parts[False])]
    backbone, head = torch.stack(sums).tolist()  # one device-to-host copy, not one per parameter
    return {"grad_norm": math.sqrt(backbone + head), "grad_norm_backbone": math.sqrt(backbone),
            "grad_norm_head": math.sqrt(head)}


def _no_sync(module: nn.Module) -> contextlib.AbstractContextManager[Any]:
    """DDP's ``no_sync`` for accumulation micro-batches; a no-op for an unwrapped module."""
    no_sync = getattr(module, "no_sync", None)
    return no_sync() if no_sync is not None else contextlib.nullcontext()
