"""The AdamW of Hugging Face transformers (``optim.type: hf_adamw``), which X-Pool and VSC-HA train
with (X-Pool's ``modules/optimization.py``, a copy of transformers' ``AdamW``).

For each parameter ``p`` with gradient ``g`` at step ``t`` and the group's (scheduled) ``lr``:

    m <- b1 m + (1 - b1) g
    v <- b2 v + (1 - b2) g^2
    p <- p - lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)
    p <- p - lr * weight_decay * p                   (after the update, on the updated p)

It differs from ``torch.optim.AdamW`` in two places: ``eps`` is added to ``sqrt(v)`` before the bias
correction (torch adds it to ``sqrt(v / (1 - b2^t))``), so it weighs ``1 / sqrt(1 - b2^t)`` times more
early on, and the decay shrinks the updated weights instead of the old ones. Over 3,000 steps at
X-Pool's settings the total updates differ by 2.9 % (8.1 % for |g| < 1e-5; ``tools/adamw_gap.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch


class HfAdamW(torch.optim.Optimizer):
    """See the module docstring (transformers' ``correct_bias=True``, its default)."""

    def __init__(self, params: Iterable[Any], lr: float, betas: tuple[float, ...] = (0.9, 0.999), eps: float = 1e-6,
                 weight_decay: float = 0.0) -> None:
        if lr < 0 or eps < 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"invalid AdamW settings: lr={lr}, betas={betas}, eps={eps}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("AdamW does not support sparse gradients")
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.mul_(beta1).add_(p.grad, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                step = state["step"]
                step_size = group["lr"] * math.sqrt(1 - beta2**step) / (1 - beta1**step)
                p.addcdiv_(m, v.sqrt().add_(group["eps"]), value=-step_size)
                if group["weight_decay"] > 0:
                    p.add_(p, alpha=-group["lr"] * group["weight_decay"])
        return loss
