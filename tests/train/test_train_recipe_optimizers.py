"""One optimizer step of each published recipe (its shipped config's ``optim`` and ``train.precision``)
from the same weights and the same gradients, against the official optimizer written from reading it.

- BertAdam (CLIP4Clip, DRL, UCoFiA, EERCF, HMMC): ArrowLuo/CLIP4Clip ``modules/optimization.py``,
  ``BertAdam.step``: ``clip_grad_norm_(p, max_grad_norm)``; ``next_m.mul_(b1).add_(g, 1 - b1)``;
  ``next_v.mul_(b2).addcmul_(g, g, 1 - b2)``; ``update = next_m / (next_v.sqrt() + e)``;
  ``update += weight_decay * p``; ``p.add_(-lr_scheduled * update)``; no bias correction. Its state is
  ``zeros_like(p)``: fp16 for the CLIP towers after ``convert_weights`` (``train.precision: fp16-reference``).
- AdamW (X-Pool, VSC-HA): layer6ai-labs/xpool ``modules/optimization.py`` lines 159-187 (transformers'
  ``AdamW``): ``denom = exp_avg_sq.sqrt().add_(eps)``; ``step_size = lr * sqrt(1 - b2^t) / (1 - b1^t)``;
  ``p.addcdiv_(exp_avg, denom, -step_size)``; then ``p.add_(p, alpha=-lr * weight_decay)``.
"""

from __future__ import annotations

import math

import pytest
import torch
import yaml
from torch import nn

from tvrkit.config.shipped import resolve_config_path
from tvrkit.train.config import OptimConfig
from tvrkit.train.optim import build_optimizer

BERTADAM = ("clip4clip-meanp", "clip4clip-seqtransf", "drl", "ucofia", "eercf", "hmmc")
HF_ADAMW = ("xpool", "vscha")


def _recipe(method: str) -> tuple[OptimConfig, str]:
    doc = yaml.safe_load(resolve_config_path(f"msrvtt-{method}-vit-b32").read_text())
    optim = {k: tuple(v) if isinstance(v, list) else v for k, v in doc["optim"].items()}
    return OptimConfig(**optim), doc["train"]["precision"]


class Model(nn.Module):
    """A tower (fp16 under fp16-reference, as ``convert_weights`` leaves CLIP) and an fp32 head."""

    def __init__(self, tower_dtype: torch.dtype) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.backbone = nn.Linear(8, 8).to(tower_dtype)
        self.head = nn.Linear(8, 4)


def _gradients(model: nn.Module) -> None:
    g = torch.Generator().manual_seed(1)
    for i, p in enumerate(model.parameters()):
        # wide magnitudes: 1e-5 .. 1, so fp16's squares underflow for the smallest, and the largest clip
        scale = 10.0 ** -torch.randint(0, 6, p.shape, generator=g).float()
        p.grad = (torch.randn(p.shape, generator=g) * scale * (3.0 if i == 0 else 1.0)).to(p.dtype)


def official_bertadam(p: torch.Tensor, g: torch.Tensor, lr: float, cfg: OptimConfig, wd: float) -> torch.Tensor:
    p, g = p.clone(), g.clone()
    if cfg.param_grad_norm:
        g.mul_(min(1.0, cfg.param_grad_norm / (float(g.float().norm()) + 1e-6)))  # torch's clip_grad_norm_
    next_m, next_v = torch.zeros_like(p), torch.zeros_like(p)
    b1, b2 = cfg.betas
    next_m.mul_(b1).add_(g, alpha=1 - b1)
    next_v.mul_(b2).addcmul_(g, g, value=1 - b2)
    update = next_m / (next_v.sqrt() + cfg.eps)
    if wd > 0:
        update += wd * p
    p.add_(-(lr * update))
    return p


def official_hf_adamw(p: torch.Tensor, g: torch.Tensor, lr: float, cfg: OptimConfig, wd: float) -> torch.Tensor:
    p = p.clone()
    exp_avg, exp_avg_sq = torch.zeros_like(p), torch.zeros_like(p)
    b1, b2 = cfg.betas
    exp_avg.mul_(b1).add_(g, alpha=1.0 - b1)
    exp_avg_sq.mul_(b2).addcmul_(g, g, value=1.0 - b2)
    denom = exp_avg_sq.sqrt().add_(cfg.eps)
    step_size = lr * math.sqrt(1.0 - b2) / (1.0 - b1)  # step 1
    p.addcdiv_(exp_avg, denom, value=-step_size)
    if wd > 0.0:
        p.add_(p, alpha=-lr * wd)
    return p


@pytest.mark.parametrize("method", BERTADAM + HF_ADAMW)
def test_one_recipe_step_equals_the_official_optimizer(method):
    cfg, precision = _recipe(method)
    assert cfg.type == ("bertadam" if method in BERTADAM else "hf_adamw")
    model = Model(torch.float16 if precision == "fp16-reference" else torch.float32)
    _gradients(model)
    before = {n: (p.detach().clone(), p.grad.clone()) for n, p in model.named_parameters()}
    optimizer = build_optimizer(model, cfg, backbone=model.backbone)
    optimizer.step()  # at each group's peak lr (the schedule only scales it)
    official = official_bertadam if cfg.type == "bertadam" else official_hf_adamw
    groups = {id(p): g for g in optimizer.param_groups for p in g["params"]}
    for name, param in model.named_parameters():
        group = groups[id(param)]
        expected = official(*before[name], group["lr"], cfg, group["weight_decay"])
        assert param.dtype == expected.dtype
        assert torch.equal(param.detach(), expected), (method, name, (param.detach() - expected).abs().max())
    if precision == "fp16-reference":  # the towers' state is fp16, as in the official runs
        assert all(optimizer.state[p]["next_v"].dtype == torch.float16 for p in model.backbone.parameters())


def test_hf_adamw_differs_from_torch_adamw_where_the_issue_says():
    """Same weights and gradient: the first step of transformers' AdamW moves small-gradient weights less
    (eps weighs 1/sqrt(1 - b2) more before the bias correction) and decays the updated weights."""
    cfg, _ = _recipe("xpool")
    p = nn.Parameter(torch.tensor([0.5, 0.5]))
    q = nn.Parameter(p.detach().clone())
    for param in (p, q):
        param.grad = torch.tensor([1e-6, 1.0])
    hf = build_optimizer(nn.ParameterList([p]), cfg, backbone=None)
    torch_cfg = OptimConfig(**{**cfg.__dict__, "type": "adamw"})
    ref = build_optimizer(nn.ParameterList([q]), torch_cfg, backbone=None)
    hf.step(), ref.step()
    moved_hf, moved_torch = (0.5 - p.detach()).tolist(), (0.5 - q.detach()).tolist()
    assert moved_hf[0] < 0.5 * moved_torch[0]  # |g| = 1e-6 against eps 1e-6: eps weighs 1/sqrt(1 - b2) more
    assert moved_hf[1] == pytest.approx(moved_torch[1], rel=1e-3)
