"""BertAdam, the optimiser of CLIP4Clip and the methods trained with its code (``optim.type: bertadam``).

For each parameter ``p`` with gradient ``g``, at the group's (scheduled) learning rate ``lr``:

    g <- g * min(1, c / (||g|| + 1e-6))            (per-parameter clipping, c = param_grad_norm)
    m <- b1 m + (1 - b1) g
    v <- b2 v + (1 - b2) g^2
    p <- p - lr * (m / (sqrt(v) + eps) + weight_decay * p)

Unlike Adam there is no bias correction, so early updates are small (``m`` starts at 0) and
the first ones grow with ``1 - b1^t``. The clipping applies to each parameter tensor on its
own, after the trainer's global ``train.clip_grad_norm`` (CLIP4Clip clips both ways at 1.0).
``m`` and ``v`` take the parameter's dtype: under ``train.precision: fp16-reference`` they are
fp16, as in the reference runs. The learning rate comes from the group, set each step by the
scheduler (CLIP4Clip's ``warmup_cosine`` is ``optim.schedule: bert_cosine``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch


class BertAdam(torch.optim.Optimizer):
    """See the module docstring; ``param_grad_norm=None`` turns the per-parameter clipping off."""

    def __init__(self, params: Iterable[Any], lr: float, betas: tuple[float, ...] = (0.9, 0.98), eps: float = 1e-6,
                 weight_decay: float = 0.0, param_grad_norm: float | None = 1.0) -> None:
        if lr < 0 or eps < 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"invalid BertAdam settings: lr={lr}, betas={betas}, eps={eps}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                                  "param_grad_norm": param_grad_norm})

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
                    raise RuntimeError("BertAdam does not support sparse gradients")
                if group["param_grad_norm"] is not None:
                    torch.nn.utils.clip_grad_norm_(p, group["param_grad_norm"])
                grad = p.grad
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["next_m"] = torch.zeros_like(p)
                    state["next_v"] = torch.zeros_like(p)
                m, v = state["next_m"], state["next_v"]
                m.mul_(beta1).add_(grad, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                update = m / (v.sqrt() + group["eps"])
                if group["weight_decay"] > 0:
                    update.add_(p, alpha=group["weight_decay"])
                p.sub_(update.mul_(group["lr"]))
                state["step"] += 1
        return loss
