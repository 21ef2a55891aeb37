"""Optimizer groups (CLIP4Clip's two learning rates, no decay on biases/norms/temperature)
and the warmup + cosine schedule."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from tvrkit.train.config import OptimConfig
from tvrkit.train.optim import build_optimizer, build_scheduler, decays, lr_factor, param_groups, warmup_steps


class Toy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
        self.backbone.positional_embedding = nn.Parameter(torch.zeros(3, 4))
        self.head = nn.Linear(4, 2)
        self.logit_scale = nn.Parameter(torch.tensor(1.0))
        self.frozen = nn.Linear(2, 2)
        self.frozen.requires_grad_(False)


def test_groups_split_backbone_and_decay() -> None:
    cfg = OptimConfig(lr=1e-4, coef_lr=1e-3, weight_decay=0.2)
    model = Toy()
    groups = {g["name"]: g for g in param_groups(model, cfg, model.backbone)}
    assert set(groups) == {"backbone/decay", "backbone/no_decay", "new/decay", "new/no_decay"}
    assert groups["backbone/decay"]["param_names"] == ["backbone.0.weight"]
    assert sorted(groups["backbone/no_decay"]["param_names"]) == [
        "backbone.0.bias", "backbone.1.bias", "backbone.1.weight", "backbone.positional_embedding"]
    assert groups["new/decay"]["param_names"] == ["head.weight"]
    assert sorted(groups["new/no_decay"]["param_names"]) == ["head.bias", "logit_scale"]
    assert groups["backbone/decay"]["lr"] == pytest.approx(1e-7) and groups["new/decay"]["lr"] == 1e-4
    assert groups["backbone/no_decay"]["weight_decay"] == 0.0 and groups["new/decay"]["weight_decay"] == 0.2
    names = [n for g in groups.values() for n in g["param_names"]]
    assert not any(n.startswith("frozen") for n in names)  # frozen parameters are not optimised
    assert len(names) == sum(1 for p in model.parameters() if p.requires_grad)


def test_decay_rule() -> None:
    assert decays("visual.transformer.resblocks.0.mlp.c_fc.weight", torch.zeros(4, 4))
    assert not decays("visual.ln_post.weight", torch.zeros(4))
    assert not decays("text.token_embedding_positional_embedding", torch.zeros(4, 4))
    assert not decays("loss.logit_scale", torch.zeros(()))


def test_without_backbone_everything_is_new() -> None:
    model = Toy()
    groups = param_groups(model, OptimConfig(), backbone=None)
    assert {g["name"] for g in groups} == {"new/decay", "new/no_decay"}


def test_lr_factor_warmup_then_cosine() -> None:
    total, warm = 100, 10
    f = [lr_factor(s, total, warm, "cosine", 0.1) for s in range(total)]
    assert f[0] == pytest.approx(0.1) and f[warm - 1] == pytest.approx(1.0)  # linear, first step non-zero
    assert all(b > a for a, b in zip(f[:warm - 1], f[1:warm], strict=True))
    assert f[warm] == pytest.approx(1.0)
    assert all(b <= a for a, b in zip(f[warm:-1], f[warm + 1:], strict=True))  # non-increasing after warmup
    assert f[-1] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 89 / 90)))
    assert min(f[warm:]) >= 0.1
    assert [lr_factor(s, total, 0, "constant") for s in (0, 50, 99)] == [1.0, 1.0, 1.0]


def test_warmup_fraction_or_steps() -> None:
    assert warmup_steps(OptimConfig(warmup=0.1), 250) == 25
    assert warmup_steps(OptimConfig(warmup=30), 250) == 30
    assert warmup_steps(OptimConfig(warmup=500), 250) == 250
    assert warmup_steps(OptimConfig(warmup=0), 250) == 0


def test_scheduler_drives_every_group() -> None:
    cfg = OptimConfig(lr=1e-3, coef_lr=0.1, warmup=2, schedule="cosine")
    model = Toy()
    opt = build_optimizer(model, cfg, model.backbone)
    sched = build_scheduler(opt, cfg, total_steps=6)
    seen = []
    for step in range(6):
        seen.append({g["name"]: g["lr"] for g in opt.param_groups})
        opt.step()
        sched.step()
        expected = lr_factor(step, 6, 2, "cosine")
        assert seen[-1]["new/decay"] == pytest.approx(1e-3 * expected)
        assert seen[-1]["backbone/decay"] == pytest.approx(1e-4 * expected)
    assert isinstance(opt, torch.optim.AdamW) and opt.defaults["eps"] == cfg.eps


def test_nothing_trainable_is_an_error() -> None:
    model = nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable"):
        build_optimizer(model, OptimConfig(), None)
