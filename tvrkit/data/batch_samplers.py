"""Which sample indices each rank loads, in which batches.

Training: the global batch is divided over ranks and accumulation steps
(:func:`rank_batch_size`); one permutation per (seed, epoch), shared by all ranks; rank r takes every
W-th index and is padded, by repeating its own indices from the start, to the same whole
number of full batches as every other rank, so no rank waits at the end of an epoch (each
sample is still seen at least once per epoch). Batches are a pure function of (seed, epoch,
rank), so a resumed run can start at batch ``start_batch`` without touching earlier ones.

Evaluation: rank r takes one contiguous block of the split, no padding, so every video is
embedded exactly once and gathering blocks in rank order restores the split order.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from tvrkit.errors import ConfigError


def rank_batch_size(global_batch: int, world_size: int, grad_accum: int = 1) -> int:
    """Samples each rank loads per micro-batch when ``global_batch`` (``data.batch_size``) is the
    batch of one optimizer step, as CLIP4Clip divides ``--batch_size`` by its accumulation steps
    and GPUs; :class:`ConfigError` when they do not divide it (no sample silently dropped or added)."""
    parts = world_size * grad_accum
    if global_batch % parts:
        raise ConfigError(f"data.batch_size: the global batch {global_batch} does not divide into {world_size} "
                          f"rank(s) x train.grad_accum {grad_accum}; use a multiple of {parts}")
    return global_batch // parts


class TrainBatchSampler:
    """Batches of item indices for one rank and epoch (a DataLoader ``batch_sampler``)."""

    def __init__(self, num_items: int, batch_size: int, rank: int, world_size: int, seed: int, epoch: int,
                 start_batch: int = 0) -> None:
        if num_items <= 0:
            raise ValueError("no training samples")
        self.batch_size = batch_size
        self.total_batches = math.ceil(num_items / (world_size * batch_size))
        if not 0 <= start_batch <= self.total_batches:
            raise ValueError(f"start_batch {start_batch} outside 0..{self.total_batches}")
        self.start_batch = start_batch
        order = np.random.default_rng([seed, epoch]).permutation(num_items)
        mine = order[rank::world_size] if rank < num_items else order
        # np.resize repeats the rank's own indices from its start until the batches are full
        self._batches = np.resize(mine, self.total_batches * batch_size).reshape(self.total_batches, batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self._batches[self.start_batch:]:
            yield batch.tolist()

    def __len__(self) -> int:
        return self.total_batches - self.start_batch


def eval_block(num_items: int, rank: int, world_size: int) -> range:
    """The contiguous block of ``range(num_items)`` that ``rank`` evaluates."""
    return range(num_items * rank // world_size, num_items * (rank + 1) // world_size)
