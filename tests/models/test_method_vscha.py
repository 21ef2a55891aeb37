"""model.method vscha against the official VSC-HA code (github:OPA067/VSC-HA @ 9ae3b16).

The fixtures in tests/fixtures/methods/vscha/ were produced by the official code on a seeded-random
tiny model (Hugging Face CLIPModel, width 64, 2 layers, 2 heads, 32 px, patch 8, embed 64, vocab
512; official --num_frames 4, center 8) with

    cd /work/ref && PYTHONPATH=/work/refpkgs/hf:/work/refpkgs/vscha python gen_vscha.py OUT_DIR

(transformers 4.39.2 as the official requirements pin it; the script lives outside the project).
``checkpoint.pth`` is the official ``{"epoch", "state_dict", "optimizer"}``; ``vscha-tiny.json`` is
the matching open_clip architecture (the shipped tvrkit-tiny has CLIP's 49408-token vocabulary,
too large for a fixture).
"""

from __future__ import annotations

import open_clip
import pytest
import torch
from repo_paths import FIXTURES

from tvrkit.models import load_checkpoint
from tvrkit.models.config import load_model_config
from tvrkit.models.methods.layouts import hf_clip_to_openai
from tvrkit.models.methods.vscha.model import VSCHA

FIXTURES = FIXTURES / "methods" / "vscha"


def config(**vscha):
    open_clip.add_model_config(FIXTURES / "vscha-tiny.json")
    return load_model_config(base={"method": "vscha", "backbone": {"name": "vscha-tiny"},
                                   "vscha": {"max_frames": 4, "dropout": 0.0, **vscha}})


@pytest.fixture(scope="module")
def golden():
    return torch.load(FIXTURES / "inputs.pt"), torch.load(FIXTURES / "scores.pt")


def encoded(model, inputs):
    with torch.no_grad():
        return model.encode_text(inputs["tokens"]), model.encode_video(inputs["frames"], inputs["frame_mask"])


def assert_close_same_ranking(ours, official, mask=None):
    ours, official = ours.double(), official.double()
    if mask is not None:
        ours, official = ours[:, mask], official[:, mask]
    span = float(official.max() - official.min())
    assert (ours - official).abs().max() <= 1e-4 * span
    assert torch.equal(ours.argsort(dim=1), official.argsort(dim=1))


def test_honest_score_equals_the_official_training_similarity(golden):
    """Short videos as the official loader feeds them: last frame repeated (padding: repeat_last)."""
    inputs, scores = golden
    model = load_checkpoint(FIXTURES / "checkpoint.pth", config(padding="repeat_last"))
    text, video = encoded(model, inputs)
    with torch.no_grad():
        out = model.score(text, video, block_size=3)
    assert_close_same_ranking(out["total"], scores["honest"])
    assert torch.equal(out["total"], out["frame_sentence"])


def test_masked_padding_equals_the_official_score_on_the_valid_frames_only(golden):
    inputs, scores = golden
    model = load_checkpoint(FIXTURES / "checkpoint.pth", config())
    text, video = encoded(model, inputs)
    with torch.no_grad():
        total = model.score(text, video, levels=["frame_sentence"])["total"]
    assert_close_same_ranking(total, scores["honest_valid"])
    short = ~inputs["frame_mask"].all(1)
    assert not torch.allclose(total[:, short], scores["honest"][:, short], atol=1e-4)


def test_ground_truth_leak_reproduces_the_official_evaluation_matrix(golden):
    inputs, scores = golden
    model = load_checkpoint(FIXTURES / "checkpoint.pth", config(padding="repeat_last"))
    text, video = encoded(model, inputs)
    text_video = inputs["text_video"]
    first_caption = torch.stack([(text_video == v).nonzero()[0, 0] for v in range(len(video))])
    leak = model.ground_truth_leak_scores(text, video, first_caption, block_size=2)
    # official [videos, caption k, videos]; its metrics read caption 0 of each video as the query
    assert_close_same_ranking(leak[first_caption], scores["leak"][:, 0, :])
    with torch.no_grad():
        honest = model.score(text, video)["total"]
    own = torch.arange(len(video))
    assert torch.allclose(leak[first_caption, own], honest[first_caption, own], atol=1e-6)
    assert not torch.allclose(leak, honest, atol=1e-3)


def test_training_loss_equals_the_official_loss_with_the_same_random_draw(golden):
    inputs, scores = golden
    model = load_checkpoint(FIXTURES / "checkpoint.pth", config(padding="repeat_last")).train()
    rows = scores["loss_texts"]
    text = model.encode_text(inputs["tokens"][rows])
    video = model.encode_video(inputs["frames"], inputs["frame_mask"])
    torch.manual_seed(int(scores["loss_seed"]))
    loss, parts = model.loss(text, video)
    official = scores["loss_parts"]
    assert abs(float(loss.detach()) - float(scores["loss"])) < 1e-5
    opts = model.cfg.options
    ours = torch.tensor([opts.alpha * parts["video_sentence"], parts["frame_sentence"],
                         opts.beta * parts["entity_word"]])
    assert torch.allclose(ours, official.float(), atol=1e-5)
    loss.backward()
    assert model.video_mlp[0].weight.grad is not None and model.video_mlp[0].weight.grad.abs().sum() > 0


def test_compression_draws_randomly_in_training_and_never_in_evaluation(golden):
    inputs, _ = golden
    model = load_checkpoint(FIXTURES / "checkpoint.pth", config())
    text, video = encoded(model, inputs)
    rows = torch.arange(len(video))
    state = torch.get_rng_state()
    with torch.no_grad():
        first = model.loss(text[rows], video)[0]
        model.score(text, video)
        assert torch.equal(torch.get_rng_state(), state)
        assert torch.equal(model.loss(text[rows], video)[0], first)
        model.train()
        trained = [model.loss(text[rows], video)[0] for _ in range(2)]
    assert not torch.equal(torch.get_rng_state(), state)
    assert not torch.equal(trained[0], trained[1])


def test_hugging_face_layout_maps_every_key_and_rejects_incomplete_attention():
    state = torch.load(FIXTURES / "checkpoint.pth")["state_dict"]
    assert VSCHA.looks_like(state)
    clip = {k[len("clip."):]: v for k, v in state.items() if k.startswith("clip.")}
    mapped = hf_clip_to_openai(clip)
    assert torch.equal(mapped["transformer.resblocks.1.attn.in_proj_weight"][64:128],
                       clip["text_model.encoder.layers.1.self_attn.k_proj.weight"])
    assert torch.equal(mapped["visual.proj"], clip["visual_projection.weight"].T)
    assert not any(k.startswith(("text_model.", "vision_model.")) for k in mapped)
    clip.pop("vision_model.encoder.layers.0.self_attn.v_proj.bias")
    with pytest.raises(ValueError, match=r"visual.transformer.resblocks.0.attn.in_proj_bias needs q, k and v"):
        hf_clip_to_openai(clip)


def test_frame_count_must_be_the_configured_one(golden):
    inputs, _ = golden
    model = load_checkpoint(FIXTURES / "checkpoint.pth", config())
    with pytest.raises(ValueError, match="model.vscha.max_frames is 4; this batch has 3 frame slots"):
        model.encode_video(inputs["frames"][:, :3], inputs["frame_mask"][:, :3])


def test_every_trainable_parameter_gets_a_gradient(golden):
    """DDP without find_unused_parameters needs it (CLIP's logit scale included, trained as officially)."""
    inputs, _ = golden
    model = load_checkpoint(FIXTURES / "checkpoint.pth", config()).train()
    loss, _ = model(inputs["tokens"][:5], inputs["frames"], inputs["frame_mask"])
    loss.backward()
    assert [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None] == []
    assert model.backbone.clip.logit_scale.grad is not None
