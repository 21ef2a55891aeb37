"""model.method hmmc against the official HMMC code (github:cheetah003/HMMC @ 7389cf4).

The fixtures in tests/fixtures/methods/hmmc/ were produced by the official code (BirdModel, task
retrieval, --use_temp --use_frame_fea --top_frames 2 --max_frames 4) on a seeded-random tiny
OpenAI-layout CLIP (width 64: HMMC hard-codes 64-wide heads, so 1 head; 2 layers, 32 px, patch 8,
embed 64, vocab 512) with a 2-layer temporal transformer, with

    cd /work/ref && PYTHONPATH=/work/refpkgs/hf:/work/refpkgs/hmmc python gen_hmmc.py OUT_DIR

(the script lives outside the project). ``pytorch_model.bin`` is saved as HMMC's save_model does
(CLIP tensors in fp16); scores and loss were computed by the official code in fp32.
``hmmc-tiny.json`` is the matching open_clip architecture.
"""

from __future__ import annotations

import open_clip
import pytest
import torch
from repo_paths import FIXTURES

from tvrkit.models import load_checkpoint
from tvrkit.models.config import load_model_config
from tvrkit.models.methods.hmmc.model import HMMC
from tvrkit.models.methods.hmmc.momentum import queue_contrast

FIXTURES = FIXTURES / "methods" / "hmmc"


def config(**hmmc):
    open_clip.add_model_config(FIXTURES / "hmmc-tiny.json")
    return load_model_config(base={"method": "hmmc", "backbone": {"name": "hmmc-tiny"},
                                   "hmmc": {"temporal_layers": 2, **hmmc}})


@pytest.fixture(scope="module")
def golden():
    return torch.load(FIXTURES / "inputs.pt"), torch.load(FIXTURES / "scores.pt")


def assert_close_same_ranking(ours, official):
    ours, official = ours.double(), official.double()
    span = float(official.max() - official.min())
    assert (ours - official).abs().max() <= 1e-4 * span
    assert torch.equal(ours.argsort(dim=1), official.argsort(dim=1))


def scores(model, inputs):
    with torch.no_grad():
        text, video = model.encode_text(inputs["tokens"]), model.encode_video(inputs["frames"], inputs["frame_mask"])
        return model.score(text, video, block_size=3)


def test_total_equals_the_official_evaluation_sum_unmasked(golden):
    """Unmasked, as the official model (no frame mask): equal on every video, padded ones too."""
    inputs, official = golden
    model = load_checkpoint(FIXTURES / "pytorch_model.bin", config(padding="unmasked"))
    assert isinstance(model, HMMC)
    out = scores(model, inputs)
    assert_close_same_ranking(out["total"], official["total"])
    assert_close_same_ranking(out["video_sentence"], official["video"])
    assert_close_same_ranking(out["frame_sentence"], official["frame"])


def test_masked_padding_equals_the_official_score_on_the_valid_frames_only(golden):
    inputs, official = golden
    model = load_checkpoint(FIXTURES / "pytorch_model.bin", config())
    total = scores(model, inputs)["total"]
    known = ~official["total_valid"].isnan().any(0)  # the official top-2 cannot take a 1-frame video
    assert_close_same_ranking(total[:, known], official["total_valid"][:, known])
    single = inputs["frame_mask"].sum(1) == 1
    with torch.no_grad():  # a 1-frame video's frame term is its one frame
        text = model.encode_text(inputs["tokens"])
        video = model.encode_video(inputs["frames"][single], inputs["frame_mask"][single])
        cos = torch.nn.functional.cosine_similarity(text.sentence[:, None], video.raw_frames[:, 0][None], dim=-1)
    assert torch.allclose(model.score(text, video)["frame_sentence"], 100 * cos, atol=1e-4)


def test_fine_tune_loss_equals_the_official_loss(golden):
    inputs, official = golden
    model = load_checkpoint(FIXTURES / "pytorch_model.bin", config(padding="unmasked")).train()
    videos = len(inputs["frames"])
    loss, parts = model(inputs["tokens"][:videos], inputs["frames"], inputs["frame_mask"])
    assert abs(float(loss.detach()) - float(official["loss"])) < 1e-5 * max(1.0, float(official["loss"]))
    assert set(parts) == {"video_sentence", "frame_sentence"}
    loss.backward()
    assert model.encoder.temporal.position.weight.grad.abs().sum() > 0


def test_masked_frame_loss_is_the_official_one_without_padding(golden):
    inputs, _ = golden
    model = load_checkpoint(FIXTURES / "pytorch_model.bin", config())
    full = inputs["frame_mask"].all(1)
    tokens, frames, mask = inputs["tokens"][:5][full], inputs["frames"][full], inputs["frame_mask"][full]
    with torch.no_grad():
        masked = model(tokens, frames, mask)[0]
        unmasked = load_checkpoint(FIXTURES / "pytorch_model.bin", config(padding="unmasked"))(tokens, frames, mask)[0]
        assert torch.allclose(masked, unmasked, atol=1e-5)
        with_padding = model(inputs["tokens"][:5], inputs["frames"], inputs["frame_mask"])[0]
    assert torch.isfinite(with_padding)


def test_queue_contrast_equals_the_official_contrastive_loss(golden):
    _, official = golden
    q, k, queue = (official["contrast_inputs"][n] for n in ("q", "k", "queue"))
    assert torch.allclose(queue_contrast(q, k, queue.T, 0.07), official["contrast"], atol=1e-5)


def test_pretraining_updates_the_key_encoder_before_its_keys_and_enqueues_after(golden):
    inputs, _ = golden
    cfg = config(pretrain={"enabled": True, "queue_size": 10, "frames": 4, "momentum": 0.9})
    torch.manual_seed(0)
    model = HMMC(cfg).train()
    key_encoder = model.momentum.key_encoder
    with torch.no_grad():  # make online and key weights differ, as after a few optimiser steps
        model.encoder.temporal.position.weight.add_(1.0)
    online = model.encoder.temporal.position.weight.detach().clone()
    old_key = key_encoder.temporal.position.weight.detach().clone()
    videos = len(inputs["frames"])
    loss, parts = model(inputs["tokens"][:videos], inputs["frames"], inputs["frame_mask"])
    assert set(parts) == {"vtm", "ftm"} and torch.isfinite(loss)
    assert torch.allclose(key_encoder.temporal.position.weight, 0.9 * old_key + 0.1 * online)
    with torch.no_grad():  # the queued keys are the UPDATED key encoder's
        keys = key_encoder.encode_video(inputs["frames"], inputs["frame_mask"])
        text_keys = key_encoder.encode_text(inputs["tokens"][:videos]).sentence
    assert torch.allclose(model.momentum.frame_queue[:4 * videos].view(videos, 4, -1)[inputs["frame_mask"]],
                          torch.nn.functional.normalize(keys.raw_frames, dim=-1)[inputs["frame_mask"]], atol=1e-5)
    assert torch.allclose(model.momentum.text_queue[:videos], torch.nn.functional.normalize(text_keys, dim=-1),
                          atol=1e-5)
    assert int(model.momentum.pointer) == videos
    loss.backward()
    assert key_encoder.temporal.position.weight.grad is None


def test_official_checkpoint_of_another_method_is_named(golden, tmp_path):
    state = torch.load(FIXTURES / "pytorch_model.bin")
    assert HMMC.looks_like(state)
    state["text_encoder.extra"] = torch.zeros(1)
    torch.save(state, tmp_path / "bad.bin")
    with pytest.raises(Exception, match="unexpected: text_encoder.extra"):
        load_checkpoint(tmp_path / "bad.bin", config())


def test_pretraining_checkpoint_loads_key_encoders_and_queues_or_drops_them(tmp_path):
    """BirdPreTrainedModel's layout (the fine-tuning run's --init_model): *_k encoders, queues
    [dim, size], FAM projectors and the MLM head."""
    state = torch.load(FIXTURES / "pytorch_model.bin")
    for key in list(state):
        state[key.replace("_encoder.", "_encoder_k.", 1)] = state[key] * 0.5
    queues = {"queue_v_cross_ng": torch.randn(64, 10), "queue_title_cross_ng": torch.randn(64, 10),
              "queue_frame_cross_ng": torch.randn(64, 40), "queue_tag_cross_ng": torch.randn(64, 10),
              "queue_frame_proj_ng": torch.randn(64, 40)}
    state.update(queues, queue_ptr=torch.tensor([3]), **{"v_projector.linear_out.weight": torch.zeros(64, 64),
                                                        "cls.bias": torch.zeros(512)})
    torch.save(state, tmp_path / "pretrained.bin")
    finetune = load_checkpoint(tmp_path / "pretrained.bin", config())
    assert finetune.momentum is None
    pre = load_checkpoint(tmp_path / "pretrained.bin", config(pretrain={"enabled": True, "queue_size": 10,
                                                                        "frames": 4}))
    assert torch.equal(pre.momentum.video_queue, queues["queue_v_cross_ng"].T)
    assert torch.equal(pre.momentum.frame_queue, queues["queue_frame_cross_ng"].T) and int(pre.momentum.pointer) == 3
    online = pre.encoder.temporal.position.weight
    assert torch.equal(pre.momentum.key_encoder.temporal.position.weight, online * 0.5)
    assert torch.equal(finetune.encoder.temporal.position.weight, online)


def test_every_trainable_parameter_gets_a_gradient(golden):
    """DDP without find_unused_parameters needs it; the fixed logit scale is not trained."""
    inputs, _ = golden
    model = load_checkpoint(FIXTURES / "pytorch_model.bin", config()).train()
    loss, _ = model(inputs["tokens"][:5], inputs["frames"], inputs["frame_mask"])
    loss.backward()
    assert [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None] == []
    assert not model.backbone_module.clip.logit_scale.requires_grad
