"""``train.gather_grad``: the official ``AllGather`` against tvrkit's ``local`` and ``full`` rules under
torchrun (2 CPU ranks, gloo, DDP), gradients per parameter, and the reference world size.

The official behaviour is CLIP4Clip's ``AllGather`` (ArrowLuo/CLIP4Clip ``modules/until_module.py``,
class ``AllGather``; the same class in DRL ``tvr/models/until_module.py``, EERCF ``until_module.py`` and
UCoFiA ``train/modules/until_module.py``), written here from reading it: the forward concatenates every
rank's tensor, the backward returns ``grad_output[batch_size * rank : batch_size * (rank + 1)]``, this
rank's slice of its own loss copy's gradient, never summed over ranks. The expected ratios (pre-gather
parameters 1/W, post-gather parameters 1) follow from that and DDP's averaging; the single-process
gradients they are compared with come from the same model on the concatenated batch.

This file is also the torchrun worker: ``python -m torch.distributed.run ... test_dist_gather_grad.py OUT``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from tvrkit import dist

ROWS, WORLD = 3, 2  # rows per rank (the official AllGather assumes equal rows), ranks


class OfficialAllGather(torch.autograd.Function):
    """CLIP4Clip's ``AllGather`` (see the module docstring)."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
        output = [torch.empty_like(tensor) for _ in range(world_size)]
        torch.distributed.all_gather(output, tensor)
        ctx.rank, ctx.batch_size = rank, tensor.shape[0]
        return torch.cat(output, dim=0)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        return grad_output[ctx.batch_size * ctx.rank: ctx.batch_size * (ctx.rank + 1)], None, None


class TwoTower(nn.Module):
    """Towers before the gather (``text``, ``video``), a logit scale after it: CLIP4Clip's layout."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.text, self.video = nn.Linear(5, 4), nn.Linear(6, 4)
        self.logit_scale = nn.Parameter(torch.tensor(2.0))

    def forward(self, x: torch.Tensor, y: torch.Tensor, gather: Any) -> torch.Tensor:
        unit = nn.functional.normalize
        t, v = gather(unit(self.text(x), dim=-1)), gather(unit(self.video(y), dim=-1))
        sim = self.logit_scale.exp() * t @ v.T
        labels = torch.arange(len(sim))
        return (nn.functional.cross_entropy(sim, labels) + nn.functional.cross_entropy(sim.T, labels)) / 2


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(11)
    return torch.randn(ROWS * WORLD, 5, generator=g), torch.randn(ROWS * WORLD, 6, generator=g)


def _grads(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.grad.detach().clone() for n, p in model.named_parameters()}


def _step(rule: str, rank: int, reference: int | None = None) -> dict[str, torch.Tensor]:
    """Gradients of one DDP step of :class:`TwoTower` on this rank's rows with gather ``rule``."""
    model = TwoTower()
    ddp = nn.parallel.DistributedDataParallel(model)
    x, y = (t[rank * ROWS:(rank + 1) * ROWS] for t in _batch())
    if rule == "official":
        loss = ddp(x, y, lambda t: OfficialAllGather.apply(t, rank, WORLD))
    else:
        with dist.gather_grad(rule, reference):
            loss = ddp(x, y, dist.all_gather_with_grad)
    loss.backward()
    return _grads(model)


def _worker(out: str) -> None:
    torch.set_num_threads(1)
    info = dist.init_distributed()
    result = {"official": _step("official", info.rank), "local": _step("local", info.rank),
              "full": _step("full", info.rank), "local_ref4": _step("local", info.rank, reference=4)}
    if info.is_main:
        torch.save(result, out)
    dist.barrier()
    dist.cleanup()


def _single_process() -> dict[str, torch.Tensor]:
    model = TwoTower()
    model(*_batch(), lambda t: t).backward()
    return _grads(model)


def _close(a: torch.Tensor, b: torch.Tensor, rel: float = 1e-6) -> bool:
    return bool((a - b).abs().max() <= rel * b.abs().max().clamp_min(1e-12))


@pytest.mark.slow
def test_local_is_the_official_all_gather_and_full_the_whole_batch_gradient(tmp_path):
    out = tmp_path / "rank0.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(WORLD), "--standalone",
           __file__, str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=Path(__file__).parent)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = torch.load(out, weights_only=False)
    single = _single_process()
    towers = [n for n in single if n != "logit_scale"]
    for name, grad in single.items():
        assert _close(result["local"][name], result["official"][name]), name
        assert _close(result["full"][name], grad, rel=1e-5), name
    for name in towers:  # before the gather: 1/W of the whole-batch gradient, 1/4 with reference 4
        assert _close(result["official"][name], grad := single[name] / WORLD, rel=1e-5), name
        assert _close(result["local_ref4"][name], grad * WORLD / 4, rel=1e-5), name
    # after the gather: the whole-batch gradient under every rule
    for rule in ("official", "local", "local_ref4"):
        assert _close(result[rule]["logit_scale"], single["logit_scale"], rel=1e-5), rule


def test_local_with_a_reference_scales_pre_gather_gradients_in_one_process_and_accumulation(monkeypatch):
    """One rank reproducing W_ref = 4: the towers get 1/4 of the gradient, the logit scale all of it;
    ``full`` and ``local`` without a reference leave one process's gradient as it is; with gradient
    accumulation the scale holds for the accumulated gradient."""
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    single = _single_process()
    for rule, reference, tower_scale in (("full", 4, 1.0), ("local", None, 1.0), ("local", 4, 0.25)):
        model = TwoTower()
        with dist.gather_grad(rule, reference):
            loss = model(*_batch(), dist.all_gather_with_grad)
        loss.backward()  # outside the context: the rule travels with the gathered tensors
        grads = _grads(model)
        for name, grad in single.items():
            scale = 1.0 if name == "logit_scale" else tower_scale
            assert _close(grads[name], grad * scale), (rule, reference, name)
    # two accumulated micro-batches (loss / 2 each) reproducing W_ref = 2: the towers half, the head whole
    accumulated = {}
    for rule, reference in (("full", None), ("local", 2)):
        model = TwoTower()
        for half in (slice(0, ROWS), slice(ROWS, 2 * ROWS)):
            with dist.gather_grad(rule, reference):
                (model(*(t[half] for t in _batch()), dist.all_gather_with_grad) / 2).backward()
        accumulated[rule] = _grads(model)
    for name, grad in accumulated["full"].items():
        assert _close(accumulated["local"][name], grad * (1.0 if name == "logit_scale" else 0.5)), name
    with pytest.raises(ValueError, match="unknown gather"):
        with dist.gather_grad("sum"):
            pass


if __name__ == "__main__":
    _worker(sys.argv[1])
