"""model.method: ucofia against the official UCoFiA code (github:Ziyang412/UCoFiA @ 6098be2).

The fixtures in tests/fixtures/methods/ucofia were produced OUTSIDE the project by running the
official training code unchanged on a seeded-random tiny model (12 image blocks so that its
hard-coded patch shift of blocks 10 and 11 applies; width 64; 32 px frames, 8 px patches; 4 frames;
16 tokens), with

    cd /work/ref/ucofia && /work/main/.venv/bin/python make_golden.py --out /work/main/tests/fixtures/methods/ucofia

``pytorch_model.bin`` is the official model's ``torch.save(model.state_dict())`` (CLIP linears fp16,
shifted attention under ``attn.net.``); ``golden.pt`` holds the inputs (texts of 3 to 16 tokens,
videos of 4, 2 and 1 real frames, a 10-caption querybank) and the official outputs: the three levels
and the total (the last two additions of its ``_loose_similarity``), their SK-norm with the bank
(``sinkhorn_knopp`` of eval_t2v/main_ucofia.py, per level, then the mean), once with the selector
noise the official eval draws after ``torch.manual_seed`` ("random") and once with tvrkit's fixed
eval draw ("fixed"), and the train-mode loss of 4 pairs with the gradients it gives.
"""

from __future__ import annotations

import numpy as np
import open_clip
import pytest
import torch
from repo_paths import FIXTURES

from tvrkit.errors import ConfigError
from tvrkit.models import load_checkpoint
from tvrkit.models.checkpoints import read_checkpoint
from tvrkit.models.methods.ucofia import LEVELS, UcofiaOptions
from tvrkit.models.methods.ucofia.model import UCoFiA
from tvrkit.models.methods.ucofia.ops import PatchShift
from tvrkit.retrieval.postprocess import apply_levels_postprocess

FIXTURES = FIXTURES / "methods" / "ucofia"
NAMES = (*LEVELS, "total")


@pytest.fixture(scope="module")
def golden() -> dict:
    return torch.load(FIXTURES / "golden.pt", weights_only=True)


@pytest.fixture(scope="module")
def model() -> UCoFiA:
    open_clip.add_model_config(FIXTURES / "ucofia-tiny.json")
    return load_checkpoint(FIXTURES / "pytorch_model.bin", config=FIXTURES / "model.yaml")


def assert_scores(ours: torch.Tensor, ref: torch.Tensor, what: str) -> None:
    """Equal to 1e-4 of the official range, and every row ranks the gallery identically."""
    span = float(ref.max() - ref.min())
    err = float((ours - ref).abs().max())
    assert err <= 1e-4 * span, f"{what}: max deviation {err:.3g} > 1e-4 x range {span:.3g}"
    assert torch.equal(ours.argsort(dim=1), ref.argsort(dim=1)), f"{what}: ranking differs"


def encode(model: UCoFiA, golden: dict, official_noise: bool):
    """Features as the official eval caches them: with the official noise (its eval draws like its
    training; train mode reproduces that draw under the same seed) or with tvrkit's eval draw."""
    text = model.encode_text(golden["tokens"])
    bank = model.encode_text(golden["bank_tokens"])
    model.train(official_noise)
    torch.manual_seed(golden["random"]["seed"])
    video = model.encode_video(golden["frames"], golden["video_mask"].bool())
    model.eval()
    return text, bank, video


@pytest.mark.parametrize("draw", ["random", "fixed"])
def test_levels_and_total_equal_official(model, golden, draw):
    with torch.inference_mode():
        text, _, video = encode(model, golden, official_noise=draw == "random")
        scores = model.score(text, video)
    for name in NAMES:
        assert_scores(scores[name], golden[draw][name], f"{draw} {name}")


@pytest.mark.parametrize("draw", ["random", "fixed"])
def test_per_level_sk_norm_equals_official(model, golden, draw):
    with torch.inference_mode():
        text, bank, video = encode(model, golden, official_noise=draw == "random")
        test, bank_scores = model.score(text, video), model.score(bank, video)
    spec = model.postprocess_levels("sk")
    assert spec["levels"]["patch_word"] == "unscaled" and "logit-scaled" in spec["levels"]["video_sentence"]
    result = apply_levels_postprocess("sk", {k: test[k].numpy() for k in LEVELS},
                                      {k: bank_scores[k].numpy() for k in LEVELS}, spec["weights"], iters=4)
    assert result.querybank["size"] == len(golden["bank_tokens"])
    assert_scores(torch.from_numpy(result.sim).float(), golden[draw]["sk_total"], f"{draw} sk_total")


def test_eval_is_deterministic_and_batch_independent(model, golden):
    frames, mask = golden["frames"], golden["video_mask"].bool()
    with torch.inference_mode():
        first = model.encode_video(frames, mask)
        torch.manual_seed(123)  # the global RNG plays no part at eval
        again = model.encode_video(frames, mask)
        one_by_one = [model.encode_video(frames[i:i + 1], mask[i:i + 1]) for i in range(len(frames))]
    assert torch.equal(first.patches, again.patches)
    for i, alone in enumerate(one_by_one):
        torch.testing.assert_close(alone.patches[0], first.patches[i], rtol=0, atol=1e-5)


def test_short_videos_are_zero_padded_to_max_frames(model, golden):
    """A 2-frame clip given as 2 frames scores like the official loader's zero-padded 4 frames."""
    frames, mask = golden["frames"][3:4], golden["video_mask"][3:4].bool()
    with torch.inference_mode():
        full = model.encode_video(frames, mask)
        short = model.encode_video(frames[:, :2], mask[:, :2])
    assert short.frame_mask.shape == (1, 4) and not short.frame_mask[0, 2:].any()
    torch.testing.assert_close(short.patches, full.patches)
    with pytest.raises(ValueError, match="max_frames"):
        model.encode_video(torch.zeros(1, 5, 3, 32, 32), torch.ones(1, 5, dtype=torch.bool))


def test_training_loss_and_gradients_equal_official(model, golden):
    ref = golden["loss"]
    b = ref["batch"]
    model.train()
    model.zero_grad()
    torch.manual_seed(ref["seed"])
    loss, parts = model(golden["tokens"][:b], golden["frames"][:b], golden["video_mask"][:b].bool())
    loss.backward()
    model.eval()
    assert abs(float(loss.detach()) - float(ref["value"])) < 1e-5
    assert parts["loss"] == pytest.approx(float(ref["value"]), abs=1e-5)
    params = dict(model.named_parameters())
    for official, grad in ref["grads"].items():
        ours = official.replace("clip.", "backbone.clip.", 1).replace(".attn.net.", ".attn.")
        got = params[ours].grad
        scale = float(grad.abs().max())
        assert float((got - grad).abs().max()) <= 1e-4 * scale + 1e-7, official


def test_official_layout_is_recognised_and_fully_loaded():
    state = read_checkpoint(FIXTURES / "pytorch_model.bin").state
    assert UCoFiA.looks_like(state)
    assert any(".attn.net." in k for k in state)  # the patch-shift wrapper's renamed keys
    open_clip.add_model_config(FIXTURES / "ucofia-tiny.json")
    loaded = load_checkpoint(FIXTURES / "pytorch_model.bin", config=FIXTURES / "model.yaml")
    ours = loaded.state_dict()
    shifted = "backbone.clip.visual.transformer.resblocks.10.attn.in_proj_weight"
    torch.testing.assert_close(ours[shifted], state["clip.visual.transformer.resblocks.10.attn.net.in_proj_weight"]
                               .float())
    assert torch.equal(ours["visual_token_selector.score_predictor.in_conv.0.weight"],
                       state["visual_token_selector.score_predictor.in_conv.0.weight"])
    assert float(ours["backbone.clip.logit_scale"]) == pytest.approx(float(state["clip.logit_scale"]))
    assert np.isclose(float(loaded.scale().detach()), 30.0, rtol=1e-3)


def _hooked(depth: int, layers) -> list[int]:
    blocks = torch.nn.ModuleList(torch.nn.Module() for _ in range(depth))
    for block in blocks:
        block.attn = torch.nn.MultiheadAttention(8, 1)
    PatchShift(7).install(blocks, layers)
    return [i for i, block in enumerate(blocks) if block.attn._forward_pre_hooks]


def test_shift_layers_default_is_the_last_two_blocks_of_any_tower():
    """The official code hard-codes blocks 10 and 11 of ViT-B/32's 12; the default (-2, -1) names
    them there and the last two blocks of a smaller tower (tvrkit-tiny's 2), so compare can train it."""
    default = UcofiaOptions().shift_layers
    assert default == (-2, -1)
    assert _hooked(12, default) == [10, 11]
    assert _hooked(12, (10, 11)) == [10, 11]
    assert _hooked(2, default) == [0, 1]
    assert _hooked(12, (11, -1)) == [11]  # one block named twice is shifted once
    for bad in ((10, 11), (-3,)):
        with pytest.raises(ConfigError, match=r"shift_layers: block -?\d+ does not exist \(the image tower has 2"):
            _hooked(2, bad)
