"""tvrkit.dist: single-process defaults, and under torchrun (2 CPU ranks, gloo, DDP) the loss over
gathered features and the averaged gradients equal one process on the concatenated batch.

This file is also the torchrun worker: ``python -m torch.distributed.run ... test_dist.py OUT``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tvrkit import dist

# Uneven on purpose: the gather must handle ranks with different batch sizes.
RANK_ROWS = [(0, 3), (3, 5)]
# DRL with its decorrelation term: a loss over token features gathered from every rank.
SECTIONS = {"method": "drl", "drl": {"temporal": {"layers": 1}}}


def _model_and_batch():
    from model_testdata import frames, mask, tiny_model, tokens

    model = tiny_model(seed=7, **SECTIONS)
    return model, (tokens(5), frames(5, 4, seed=3), mask([4, 2, 3, 1, 4], 4))


def _grads(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def _worker(out: str) -> None:
    torch.set_num_threads(1)
    info = dist.init_distributed()
    model, batch = _model_and_batch()
    ddp = torch.nn.parallel.DistributedDataParallel(model)  # averages gradients over ranks
    start, end = RANK_ROWS[info.rank]
    loss, logs = ddp(*(t[start:end] for t in batch))
    loss.backward()
    gathered = dist.all_gather_with_grad(torch.full((end - start, 2), float(info.rank)))
    objects = dist.all_gather_object({"rank": info.rank})
    if info.is_main:
        torch.save({"loss": loss.detach(), "logs": logs, "grads": _grads(model), "gathered": gathered,
                    "objects": objects, "world_size": dist.get_world_size()}, out)
    dist.barrier()
    dist.cleanup()


def test_single_process_without_torchrun_environment(monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    info = dist.init_distributed()
    assert (info.rank, info.world_size, info.local_rank, info.is_main) == (0, 1, 0, True)
    assert info.backend == ("nccl" if torch.cuda.is_available() else "gloo")
    assert info.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert (dist.get_rank(), dist.get_world_size(), dist.is_main()) == (0, 1, True)
    t = torch.randn(3, 2, requires_grad=True)
    assert dist.all_gather_with_grad(t) is t
    assert dist.all_gather_object({"a": 1}) == [{"a": 1}]
    dist.barrier()
    dist.cleanup()


@pytest.mark.slow
def test_two_rank_gathered_loss_and_gradients_equal_the_single_process_ones(tmp_path):
    out = tmp_path / "rank0.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone", __file__, str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=Path(__file__).parent)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = torch.load(out, weights_only=False)

    model, batch = _model_and_batch()
    loss, logs = model(*batch)
    loss.backward()
    assert result["world_size"] == 2 and result["objects"] == [{"rank": 0}, {"rank": 1}]
    assert torch.equal(result["gathered"], torch.tensor([[0.0, 0.0]] * 3 + [[1.0, 1.0]] * 2))
    assert torch.allclose(result["loss"], loss.detach(), rtol=1e-5)
    assert result["logs"].keys() == logs.keys()
    assert all(result["logs"][k] == pytest.approx(v, rel=1e-5) for k, v in logs.items())
    reference = _grads(model)
    assert result["grads"].keys() == reference.keys()
    for name, grad in reference.items():
        # One process and two gloo ranks add the same terms in another order (the batch split 3 + 2,
        # DDP's bucketed all-reduce): each entry differs by fp32 rounding of the tensor's largest terms,
        # not of its own size, so an element-wise rtol fails on a large tensor's small entries. Measured
        # (loss equal to 7e-8): every |2 ranks - 1 process| <= 1e-6 + 6e-8 x the tensor's largest
        # gradient here, <= 1e-6 + 9.7e-6 x it with DRL's decorrelation at weight 0.1 (loss 11.3, where
        # rtol 1e-4 failed 10 of 83 tensors); 1e-6 covers the bias before each token softmax, whose
        # gradient is zero up to rounding. Gradients summed instead of averaged are off by |g| itself.
        tol = 1e-6 + 1e-4 * grad.abs().max().item()
        torch.testing.assert_close(result["grads"][name], grad, rtol=0, atol=tol, msg=lambda m, n=name: f"{n}: {m}")


if __name__ == "__main__":
    _worker(sys.argv[1])
