"""model.method: xpool against the official X-Pool (layer6ai-labs/xpool at bc88718).

The fixtures were written by the official code, run outside tvrkit:

    cd /work/ref/xpool && PYTHONPATH=/work/refpkgs/hf .venv/bin/python /work/ref/golden/make_xpool.py OUT

``make_xpool.py`` builds the official ``CLIPTransformer`` (``--num_mha_heads 1 --transformer_dropout
0.3 --embed_dim 64``) twice on the tiny CLIP of methods_golden.py: with ``--clip_arch`` (OpenAI layout,
``xpool/openai``) and with ``--huggingface`` (the README's commands; ``CLIPModel.from_pretrained`` is
pointed at a seeded tiny transformers 4.39 CLIPModel with quick_gelu, ``xpool/hf``). It moves every
parameter as training would, saves ``{"epoch", "state_dict", "optimizer"}`` as
trainer/base_trainer._save_checkpoint does (``model_best.pth``), and records in fp32 on CPU, in eval
mode, ``sim_matrix_training(text_embeds, pool_frames(text_embeds, frames))`` over the 6 captions and
the 5 full-length videos (X-Pool's loader never pads), and ``CLIPLoss`` on the first 4 pairs in train
mode with the pooling's dropout set to 0.
"""

from __future__ import annotations

import pytest
import torch
from methods_golden import FIXTURES, assert_same_scores, backbone, inputs, recipe, scores, train_loss

from tvrkit.errors import ConfigError
from tvrkit.models import load_checkpoint
from tvrkit.models.methods.xpool.model import XPool

LAYOUTS = ("openai", "hf")


def _config(**xpool: object) -> dict:
    return {"method": "xpool", "backbone": backbone(), "xpool": xpool}


def _load(layout: str, **xpool: object) -> XPool:
    return load_checkpoint(FIXTURES / "xpool" / layout / "model_best.pth", config=_config(**xpool))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_official_checkpoint_scores_and_loss_equal_the_official_code(layout):
    golden, data = torch.load(FIXTURES / "xpool" / layout / "golden.pt"), inputs()
    model = _load(layout, dropout=0.0)
    assert_same_scores(scores(model, data, videos=5), golden["eval"])
    assert train_loss(model, data) == pytest.approx(float(golden["loss"]), abs=1e-5)


def test_the_shipped_recipe_loads_the_released_layout_and_scores_as_the_official_code():
    model = load_checkpoint(FIXTURES / "xpool" / "hf" / "model_best.pth", config=recipe("msrvtt-xpool-vit-b32.yaml"))
    golden = torch.load(FIXTURES / "xpool" / "hf" / "golden.pt")
    assert_same_scores(scores(model, inputs(), videos=5), golden["eval"])


def test_fresh_pooling_is_the_identity_projections_and_dropout_acts_only_in_training():
    model = _load("openai")
    fresh = XPool(model.cfg).pool
    for linear in (fresh.q_proj, fresh.k_proj, fresh.v_proj, fresh.out_proj, fresh.linear_proj):
        assert torch.equal(linear.weight, torch.eye(64)) and not linear.bias.any()
    assert fresh.dropout.p == pytest.approx(0.3)
    data = inputs()
    with torch.no_grad():
        text = model.encode_text(data["tokens"])
        video = model.encode_video(data["frames"][:5], data["frame_mask"][:5])
        model.train()
        torch.manual_seed(0)
        noisy = model.score(text, video)["total"]
        model.eval()
        assert not torch.allclose(noisy, model.score(text, video)["total"])


def test_padded_frames_take_no_part_in_the_pooling():
    """tvrkit masks padded frames out of the attention (the official loader has none to mask)."""
    model = _load("openai")
    data = inputs()
    short = slice(5, 6)  # 4 real frames in 12 slots
    with torch.no_grad():
        text = model.encode_text(data["tokens"])
        padded = model.score(text, model.encode_video(data["frames"][short], data["frame_mask"][short]))["total"]
        real = model.score(text, model.encode_video(data["frames"][short, :4], data["frame_mask"][short, :4]))["total"]
    assert torch.allclose(padded, real, atol=1e-6)


def test_a_drl_checkpoint_is_named_when_loaded_as_xpool():
    with pytest.raises(ConfigError, match="looks like a drl checkpoint"):
        load_checkpoint(FIXTURES / "drl" / "pytorch_model.bin.0", config=_config())
