"""A toy model and loader with the trainer's interfaces, for fast loop tests: a small
network with dropout (so random states matter for exact resume) and deterministic batches
that depend only on (epoch, batch)."""

from __future__ import annotations

import dataclasses
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tvrkit.train.checkpoint import CheckpointDir, seed_everything
from tvrkit.train.config import LoopConfig, OptimConfig
from tvrkit.train.jsonlog import LOG_FILE, JsonlLog
from tvrkit.train.loop import Parts, Trainer, plan_steps
from tvrkit.train.optim import build_optimizer, build_scheduler
from tvrkit.train.precision import grad_scaler

BATCH = 4


class ToyBackbone(nn.Linear):
    """The toy's pretrained part: a layer with what the trainer reads of a backbone (its activation)."""

    quick_gelu = False


class ToyModel(nn.Module):
    """forward(tokens, frames, frame_mask) -> (mse loss, parts); ``nan_at`` poisons chosen videos."""

    def __init__(self, nan_videos: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.backbone = ToyBackbone(12, 8)
        self.drop = nn.Dropout(0.2)
        self.head = nn.Linear(8, 1)
        self.nan_videos = nan_videos

    @property
    def backbone_module(self) -> ToyBackbone:
        return self.backbone

    def forward(self, tokens: torch.Tensor, frames: torch.Tensor, frame_mask: torch.Tensor):
        x = (frames * frame_mask[:, :, None, None, None]).flatten(1)
        pred = self.head(self.drop(torch.relu(self.backbone(x)))).squeeze(1)
        target = tokens[:, 0].float() / 10
        if self.nan_videos and any(int(t) in self.nan_videos for t in tokens[:, 1]):
            pred = pred * float("nan")
        loss = ((pred - target) ** 2).mean()
        return loss, {"mse": float(loss.detach())}


class ToyLoader:
    """``batches`` deterministic batches per epoch; optionally raises a signal at one batch."""

    def __init__(self, batches: int, epoch: int, start: int, signal_at: tuple[int, int] | None = None) -> None:
        self.batches, self.epoch, self.start, self.signal_at = batches, epoch, start, signal_at

    def __len__(self) -> int:
        return self.batches - self.start

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for b in range(self.start, self.batches):
            if self.signal_at == (self.epoch, b):
                os.kill(os.getpid(), signal.SIGTERM)  # arrives while this batch is being trained on
            g = torch.Generator().manual_seed(self.epoch * 1000 + b)
            ids = torch.arange(BATCH) + BATCH * b + 100 * self.epoch
            yield {
                "frames": torch.rand(BATCH, 2, 3, 1, 2, generator=g),
                "frame_mask": torch.ones(BATCH, 2, dtype=torch.bool),
                "tokens": torch.stack([torch.randint(0, 10, (BATCH,), generator=g), ids], dim=1),
                "video_ids": [f"v{int(i)}" for i in ids],
                "caption_ids": [f"v{int(i)}#0" for i in ids],
            }


def make_trainer(out: Path, loop: LoopConfig, batches: int = 5, nan_videos: tuple[int, ...] = (),
                 signal_at: tuple[int, int] | None = None, metrics: list[float] | None = None) -> Trainer:
    """A Trainer over the toy model and loader; ``metrics`` are the successive validation R@1s."""
    seed_everything(loop.seed)
    model = ToyModel(nan_videos)
    optim = OptimConfig(lr=1e-2, coef_lr=0.5, warmup=2)
    optimizer = build_optimizer(model, optim, model.backbone)
    _, total = plan_steps(batches, loop)
    values = iter(metrics or [])
    parts = Parts(
        model=model, step_module=model, optimizer=optimizer, scheduler=build_scheduler(optimizer, optim, total),
        scaler=grad_scaler("fp32", torch.device("cpu")), precision="fp32", device=torch.device("cpu"),
        loader_fn=lambda epoch, start: ToyLoader(batches, epoch, start, signal_at), batches_per_epoch=batches,
        validate_fn=(lambda: {"R@1": next(values)}) if metrics is not None else None,
        checkpoints=CheckpointDir(out, loop.keep_last), log=JsonlLog(out / LOG_FILE, True),
        config={"toy": True}, selection={"select_on": "val", "split": "val", "metric": "t2v R@1"},
    )
    return Trainer(parts, loop)


def loop_config(**kwargs: Any) -> LoopConfig:
    return dataclasses.replace(LoopConfig(progress=False, log_every=1, keep_last=20), **kwargs)


def weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in trainer.p.model.state_dict().items()}
