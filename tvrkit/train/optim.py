"""AdamW (torch's or transformers'), or CLIP4Clip's BertAdam with two-learning-rate parameter
groups, and the warmup + cosine schedules of tvrkit, CLIP4Clip and X-Pool.

Two things decide a parameter's group. Pretrained backbone weights move ``coef_lr`` times
slower (or at ``backbone_lr``) than the method's freshly initialised modules,
because large updates destroy what CLIP learned. Weight decay skips the parameters the
``no_decay`` rule names: tvrkit's rule skips those where shrinking toward zero is
meaningless or harmful (biases, norm gains, the learned temperature and the class /
positional embeddings: open_clip's rule, anything below 2-D plus those names); the
published recipes' rules are kept as they are, to reproduce them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from tvrkit.train.config import OptimConfig

# Names (substrings) of >= 2-D parameters that must not decay either.
NO_DECAY_NAMES = ("logit_scale", "temperature", "positional_embedding", "class_embedding", "position_embedding")


# CLIP4Clip's prep_optimizer: names containing one of these skip decay (in CLIP's own naming the
# layer norms are ln_*, so only biases match).
CLIP4CLIP_NO_DECAY = ("bias", "LayerNorm.bias", "LayerNorm.weight")


def decays(name: str, param: torch.Tensor, rule: str = "tvrkit") -> bool:
    """Whether weight decay applies to parameter ``name`` under ``optim.no_decay`` ``rule``."""
    if rule == "none":
        return True
    if rule == "clip4clip":
        return not any(key in name for key in CLIP4CLIP_NO_DECAY)
    return param.ndim >= 2 and not any(key in name for key in NO_DECAY_NAMES)


def param_groups(model: nn.Module, cfg: OptimConfig, backbone: nn.Module | None) -> list[dict[str, Any]]:
    """Optimizer groups {backbone, new} x {decay, no decay}; frozen parameters are left out.

    ``backbone`` is the submodule whose parameters get ``backbone_lr`` or ``lr * coef_lr``
    (matched by identity, so the result does not depend on parameter naming; CLIP4Clip and
    X-Pool match the names ``clip.*``, which are the same CLIP towers).
    """
    backbone_ids = {id(p) for p in backbone.parameters()} if backbone is not None else set()
    backbone_lr = cfg.backbone_lr if cfg.backbone_lr is not None else cfg.lr * cfg.coef_lr
    groups: dict[tuple[bool, bool], dict[str, Any]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        is_backbone, decay = id(param) in backbone_ids, decays(name, param, cfg.no_decay)
        group = groups.setdefault((is_backbone, decay), {
            "name": f"{'backbone' if is_backbone else 'new'}/{'decay' if decay else 'no_decay'}",
            "params": [],
            "param_names": [],
            "lr": backbone_lr if is_backbone else cfg.lr,
            "weight_decay": cfg.weight_decay if decay else 0.0,
        })
        group["params"].append(param)
        group["param_names"].append(name)
    return [groups[key] for key in sorted(groups)]


def build_optimizer(model: nn.Module, cfg: OptimConfig, backbone: nn.Module | None) -> torch.optim.Optimizer:
    """``optim.type`` over :func:`param_groups` (raises ValueError when nothing is trainable)."""
    groups = param_groups(model, cfg, backbone)
    if not groups:
        raise ValueError("the model has no trainable parameters")
    if cfg.type == "bertadam":
        from tvrkit.train.bertadam import BertAdam

        return BertAdam(groups, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps, param_grad_norm=cfg.param_grad_norm)
    if cfg.type == "hf_adamw":
        from tvrkit.train.hf_adamw import HfAdamW

        return HfAdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps)
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps)


def warmup_steps(cfg: OptimConfig, total_steps: int) -> int:
    """Warmup length in optimizer steps (``warmup`` < 1 is a fraction of ``total_steps``)."""
    if cfg.warmup < 1:
        return int(cfg.warmup * total_steps)
    return min(int(cfg.warmup), total_steps)


def _cosine(progress: float, floor: float) -> float:
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _constant(progress: float, floor: float) -> float:
    return 1.0


# Shape of the learning-rate factor after warmup, as a function of progress in [0, 1).
SCHEDULES: dict[str, Callable[[float, float], float]] = {"cosine": _cosine, "constant": _constant}


def lr_factor(step: int, total_steps: int, warmup: int, schedule: str, floor: float = 0.0) -> float:
    """Multiplier of the peak lr for the update made at 0-based optimizer ``step`` (tvrkit's
    ``cosine`` / ``constant``).

    Warmup rises linearly to 1 so that the very first update is already non-zero.
    """
    if step < warmup:
        return (step + 1) / warmup
    span = max(total_steps - warmup, 1)
    return SCHEDULES[schedule](min((step - warmup) / span, 1.0), floor)


def bert_cosine_factor(step: int, total_steps: int, warmup_fraction: float) -> float:
    """CLIP4Clip's ``warmup_cosine`` (BertAdam): ``x = step / total``; ``x / w`` while ``x < w``,
    then ``0.5 (1 + cos(pi x))``: the cosine spans the whole run, warmup included, so it
    resumes just below 1 (0.976 after w = 0.1), and the first update has lr 0."""
    x = step / total_steps
    if x < warmup_fraction:
        return x / warmup_fraction
    return 0.5 * (1.0 + math.cos(math.pi * x))


def hf_cosine_factor(step: int, total_steps: int, warmup: int) -> float:
    """X-Pool's ``get_cosine_schedule_with_warmup`` (transformers): ``step / W`` while
    ``step < W`` (the first update has lr 0), then a half cosine from 1 to 0 over the rest."""
    if step < warmup:
        return step / max(1, warmup)
    progress = (step - warmup) / max(1, total_steps - warmup)
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))


def schedule_factor(cfg: OptimConfig, total_steps: int) -> Callable[[int], float]:
    """The lr factor of ``cfg.schedule`` as a function of the 0-based optimizer step."""
    warm = warmup_steps(cfg, total_steps)
    if cfg.schedule == "bert_cosine":
        fraction = cfg.warmup if cfg.warmup < 1 else cfg.warmup / total_steps
        return lambda step: bert_cosine_factor(step, total_steps, fraction)
    if cfg.schedule == "hf_cosine":
        return lambda step: hf_cosine_factor(step, total_steps, warm)
    return lambda step: lr_factor(step, total_steps, warm, cfg.schedule, cfg.min_lr_ratio)


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: OptimConfig, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-optimizer-step LambdaLR following :func:`schedule_factor`."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, schedule_factor(cfg, total_steps))


def group_lrs(optimizer: torch.optim.Optimizer) -> dict[str, float]:
    """Current lr of each named group (for the log)."""
    return {g.get("name", str(i)): float(g["lr"]) for i, g in enumerate(optimizer.param_groups)}


def trainable_parameters(model: nn.Module) -> Iterable[torch.Tensor]:
    """The parameters the optimizer updates (for gradient clipping)."""
    return [p for p in model.parameters() if p.requires_grad]
