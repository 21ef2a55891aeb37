"""Training steps of the CLIP4Clip, X-Pool and DRL recipes' models (their shipped configs on the tiny
CLIP of methods_golden.py, from a plain OpenAI-layout state dict): every parameter gets a gradient
(DDP without find_unused_parameters needs that, CLIP's logit scale included, as the official code
trains it), and in the fp16-reference regime the loss is finite and an AdamW step lowers it (DRL:
seqTransf and WTI; the others share its backbone path)."""

from __future__ import annotations

import math

import pytest
import torch
from methods_golden import PRETRAINED, backbone, inputs, recipe

from tvrkit.models import build_model
from tvrkit.models.config import load_model_config
from tvrkit.train.precision import prepare_model

RECIPES = {
    "clip4clip-seqtransf": ("msrvtt-clip4clip-seqtransf-vit-b32.yaml", {"layers": 2}),
    "xpool": ("msrvtt-xpool-vit-b32.yaml", {}),
    "drl": ("msrvtt-drl-vit-b32.yaml", {"layers": 2}),
}


def _model(name: str):
    config, temporal = RECIPES[name]
    section = recipe(config, **temporal)
    section["backbone"] = backbone(pretrained=str(PRETRAINED))
    return build_model(load_model_config(base=section)).train()


def _batch(pairs: int = 4):
    data = inputs()
    return data["tokens"][:pairs], data["frames"][:pairs], data["frame_mask"][:pairs]


@pytest.mark.parametrize("name", RECIPES)
def test_every_parameter_gets_a_gradient(name):
    model = _model(name)
    loss, logs = model(*_batch())
    loss.backward()
    assert math.isfinite(logs["loss"])
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert missing == []
    assert model.backbone.clip.logit_scale.grad is not None


@pytest.mark.slow
@pytest.mark.parametrize("name", ["drl"])
def test_fp16_reference_steps_lower_the_loss(name):
    torch.manual_seed(0)
    model = _model(name)
    prepare_model(model, "fp16-reference")
    assert model.backbone.clip.visual.conv1.weight.dtype == torch.float16
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, eps=1e-4)
    batch = _batch()
    losses = []
    for _ in range(2):
        loss, _ = model(*batch)
        assert torch.isfinite(loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
