"""Running means for one logging window of the loop, reduced over ranks when written:
loss (total and per level), throughput and the share of time spent waiting for data."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from tvrkit import dist


class Window:
    """Accumulates micro-batch statistics from its creation until :meth:`reduce`."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.wait = 0.0  # seconds blocked on the loader
        self.loss = 0.0
        self.parts: dict[str, float] = defaultdict(float)
        self.batches = 0
        self.samples = 0
        # of the window's last step, before clipping (grad_norm, grad_norm_backbone, grad_norm_head)
        self.grad_norms: dict[str, float] = {}
        # the learning rate of each group for the window's last update (read before the schedule moves on)
        self.lr: dict[str, float] = {}

    def add(self, loss: float, parts: dict[str, float], samples: int) -> None:
        self.loss += loss
        for name, value in parts.items():
            self.parts[name] += float(value)
        self.batches += 1
        self.samples += samples

    def reduce(self) -> dict[str, Any]:
        """Means over every rank's micro-batches (collective); throughput counts all ranks."""
        elapsed = time.perf_counter() - self.start
        mine = {"loss": self.loss, "parts": dict(self.parts), "batches": self.batches,
                "samples": self.samples, "wait": self.wait, "elapsed": elapsed}
        every = dist.all_gather_object(mine)
        batches = max(sum(w["batches"] for w in every), 1)
        names = sorted({name for w in every for name in w["parts"]})
        slowest = max(w["elapsed"] for w in every)
        return {
            "loss": sum(w["loss"] for w in every) / batches,
            "losses": {n: sum(w["parts"].get(n, 0.0) for w in every) / batches for n in names},
            **self.grad_norms,
            "lr": self.lr,
            "samples_per_s": sum(w["samples"] for w in every) / max(slowest, 1e-9),
            "data_wait": sum(w["wait"] for w in every) / max(sum(w["elapsed"] for w in every), 1e-9),
            "rank_batches": [w["batches"] for w in every],  # equal on every rank, or a collective would hang
        }
