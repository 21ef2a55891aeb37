"""Distributed helpers: the only module in tvrkit that talks to ``torch.distributed``.

Processes are started by torchrun (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` in the environment);
without those variables everything runs as a single process and every collective is the identity.
NCCL is used when CUDA is available, gloo otherwise (CPU everywhere).

The gather a contrastive loss trains through has two backward rules (``train.gather_grad``):
``full`` is the exact gradient of the global-batch loss; ``local`` is the published methods'
``AllGather`` (CLIP4Clip ``modules/until_module.py``), which hands each rank only its own slice of
its own loss copy's gradient, so the parameters before the gather train at 1/W of that gradient on W
ranks. :func:`gather_grad` selects the rule for the forward passes run inside it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(backend: str | None = None) -> DistInfo:
    """Join the process group torchrun describes (once), pick the device, and say where we are."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    backend = backend or ("nccl" if cuda else "gloo")
    if cuda:
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world_size > 1 and not is_initialized():
        dist.init_process_group(backend=backend, init_method="env://", rank=rank, world_size=world_size)
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank, device=device, backend=backend)


def is_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    return dist.get_rank() if is_initialized() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_initialized() else 1


def is_main() -> bool:
    """Rank 0: the only process that writes files."""
    return get_rank() == 0


def barrier() -> None:
    if is_initialized():
        dist.barrier()


def cleanup() -> None:
    """Leave the process group (no-op when single-process)."""
    if is_initialized():
        dist.destroy_process_group()


def all_gather_object(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order (picklable objects)."""
    if not is_initialized():
        return [obj]
    out: list[Any] = [None] * get_world_size()
    dist.all_gather_object(out, obj)
    return out


def _gather_sizes(t: Tensor) -> list[int]:
    size = torch.tensor([t.shape[0]], device=t.device)
    sizes = [torch.zeros_like(size) for _ in range(get_world_size())]
    dist.all_gather(sizes, size)
    return [int(s.item()) for s in sizes]


def _gather(t: Tensor, sizes: list[int]) -> Tensor:
    """Concatenate every rank's ``t`` along dim 0; ranks may hold different numbers of rows."""
    longest = max(sizes)
    # Collectives need equal shapes (pad to the longest) and not every backend moves bools.
    wire = t.to(torch.uint8) if t.dtype == torch.bool else t
    if wire.shape[0] < longest:
        wire = torch.cat([wire, wire.new_zeros(longest - wire.shape[0], *wire.shape[1:])])
    parts = [torch.empty_like(wire) for _ in sizes]
    dist.all_gather(parts, wire.contiguous())
    out = torch.cat([p[:n] for p, n in zip(parts, sizes, strict=True)])
    return out.bool() if t.dtype == torch.bool else out


GATHER_GRADS = ("full", "local")


@dataclass(frozen=True)
class GatherGrad:
    """The backward rule of :func:`all_gather_with_grad`: ``mode`` (``full`` | ``local``) and, for
    ``local``, the world size whose scale the pre-gather gradients take (None: the actual one)."""

    mode: str = "full"
    reference_world_size: int | None = None

    def local_scale(self, world_size: int) -> float:
        """Factor on this rank's own gradient slice under ``local``: ``W / W_ref`` turns the 1/W
        that the official gather gives on W ranks into the 1/W_ref of the published run."""
        return world_size / self.reference_world_size if self.reference_world_size else 1.0


_rule = GatherGrad()


@contextlib.contextmanager
def gather_grad(mode: str = "full", reference_world_size: int | None = None) -> Iterator[GatherGrad]:
    """Forward passes inside this context gather with backward rule ``mode`` (see the module
    docstring); the rule is recorded at the gather, so the backward may run after the context."""
    global _rule
    if mode not in GATHER_GRADS:
        raise ValueError(f"unknown gather gradient rule {mode!r}; known: {', '.join(GATHER_GRADS)}")
    if reference_world_size is not None and reference_world_size < 1:
        raise ValueError(f"reference_world_size must be >= 1, got {reference_world_size}")
    previous, _rule = _rule, GatherGrad(mode, reference_world_size)
    try:
        yield _rule
    finally:
        _rule = previous


class _AllGatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, t: Tensor, sizes: list[int], rule: GatherGrad) -> Tensor:
        rank = get_rank()
        ctx.span = (sum(sizes[:rank]), sum(sizes[: rank + 1]))
        ctx.rule, ctx.world_size = rule, len(sizes)
        return _gather(t, sizes)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        start, end = ctx.span
        if ctx.rule.mode == "local":
            # The official AllGather: this rank's rows get only its own loss copy's gradient.
            return grad[start:end] * ctx.rule.local_scale(ctx.world_size), None, None
        # Every rank computes the same loss over the gathered batch, so this rank's rows receive
        # a gradient from every rank's copy: sum them. DDP's gradient averaging then divides the
        # world_size identical contributions back out, giving exactly the single-process gradient.
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[start:end], None, None


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; the gradient times ``scale`` (``local`` on one rank with a reference size)."""

    @staticmethod
    def forward(ctx: Any, t: Tensor, scale: float) -> Tensor:
        ctx.scale = scale
        return t.view_as(t)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return grad * ctx.scale, None


def all_gather_with_grad(t: Tensor) -> Tensor:
    """Concatenation of every rank's ``t`` (dim 0, rank order; sizes may differ between ranks).

    Gradient flows back to the local slice only, by the rule of the enclosing :func:`gather_grad`.
    ``full`` (the default) sums it over ranks (see ``_AllGatherWithGrad``): a loss computed
    identically on every rank from gathered features, with gradients averaged across ranks as DDP
    does, trains exactly like one process holding the concatenated batch. ``local`` keeps this
    rank's own slice, scaled by ``W / reference_world_size`` when a reference is set.
    """
    rule = _rule
    if get_world_size() == 1:
        scale = rule.local_scale(1) if rule.mode == "local" else 1.0
        return _ScaleGrad.apply(t, scale) if t.requires_grad and scale != 1.0 else t
    sizes = _gather_sizes(t)
    if t.requires_grad:
        return _AllGatherWithGrad.apply(t, sizes, rule)
    return _gather(t, sizes)
