"""Mixed precision, resolved once: ``auto`` means bf16 autocast on CUDA and plain fp32 on
CPU (CPU bf16 autocast is slower than fp32 on most CPUs). fp16 needs a gradient scaler
and CUDA; bf16 has fp32's range, so it needs no scaler.

``fp16-reference`` is no autocast at all but the regime of the published numbers: OpenAI's
``convert_weights`` applied to the CLIP towers before training, as CLIP4Clip, X-Pool and
their successors do (open_clip's ``convert_weights_to_lp`` is that same conversion: Linear,
Conv and attention weights and biases, ``text_projection`` and ``proj`` to fp16), with every
LayerNorm computing in fp32 as OpenAI's LayerNorm subclass does (open_clip's
``LayerNormFp32``, what it builds for ``precision="fp16"``). The towers' weights, gradients
and optimizer state are fp16; the method's own modules stay fp32 and the towers' outputs are
cast to fp32 for them (:class:`~tvrkit.models.backbone.ClipBackbone`); there is no loss
scaling. It runs on CPU too, slowly.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from tvrkit.errors import ConfigError

FP16_REFERENCE = "fp16-reference"
DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16, FP16_REFERENCE: None}


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` -> bf16 on CUDA, fp32 elsewhere; fp16 off CUDA is a :class:`ConfigError`."""
    if precision == "auto":
        return "bf16" if device.type == "cuda" else "fp32"
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError("train.precision: fp16 needs a CUDA device; use fp32 or bf16")
    return precision


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager[object]:
    """The autocast context of a resolved ``precision`` (a no-op for fp32)."""
    dtype = DTYPES[precision]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def grad_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler:
    """A scaler that is active only for fp16 (disabled scalers pass values through)."""
    return torch.amp.GradScaler(device.type, enabled=precision == "fp16")


def convert_to_fp16_reference(clip: nn.Module) -> None:
    """Store ``clip`` (an open_clip ``CLIP``) as the references train it, in place (see the module
    docstring); parameters keep their identity, so call it before building the optimizer anyway
    to give its state the new dtype."""
    from open_clip.model import convert_weights_to_lp
    from open_clip.transformer import LayerNorm, LayerNormFp32

    convert_weights_to_lp(clip, torch.float16)
    for module in clip.modules():
        if type(module) in (LayerNorm, nn.LayerNorm):
            module.__class__ = LayerNormFp32  # same parameters; its forward normalises in fp32


def prepare_model(model: nn.Module, precision: str) -> None:
    """Apply a resolved ``precision``'s weight storage to ``model`` (only fp16-reference has one)."""
    if precision == FP16_REFERENCE:
        convert_to_fp16_reference(model.backbone_module.clip)
