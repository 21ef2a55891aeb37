"""Losses and training: InfoNCE by hand, gradients reach every enabled head (no parameter left
without a gradient, which DDP would trip on), momentum queue and EMA, decorrelation, temperature
clamp, checkpoint round trip, and the cacheable feature containers."""

from __future__ import annotations

import math

import pytest
import torch
from test_models_support import ALL_LEVELS, VARIANT_OPTIONS, frames, mask, merge, single_level, tiny_model, tokens

from tvrkit.errors import ConfigError
from tvrkit.models import LEVELS, TextFeatures, VideoFeatures
from tvrkit.models.losses import channel_correlation, decorrelation_penalty, symmetric_infonce

BATCH = (tokens(4), frames(4, 3), mask([3, 1, 2, 3], 3))
ALL_VARIANTS = merge(ALL_LEVELS, VARIANT_OPTIONS)


def test_symmetric_infonce_is_the_mean_of_both_directions():
    sim = torch.tensor([[0.9, 0.1, -0.2], [0.3, 0.4, 0.0], [0.2, 0.5, 0.6]])
    scale = torch.tensor(10.0)
    logits = scale * sim
    t2v = -sum(torch.log_softmax(logits[i], 0)[i] for i in range(3)) / 3
    v2t = -sum(torch.log_softmax(logits[:, i], 0)[i] for i in range(3)) / 3
    assert torch.allclose(symmetric_infonce(sim, scale), (t2v + v2t) / 2)


@pytest.mark.parametrize(
    "levels",
    [single_level(name) for name in LEVELS] + [ALL_VARIANTS],
    ids=[*LEVELS, "all-variants"],
)
def test_gradients_reach_every_enabled_head_and_the_backbone(levels):
    only_patches = levels == single_level("patch_word")  # patch tokens skip the temporal module
    model = tiny_model(temporal={"type": "meanP" if only_patches else "seqTransf"}, levels=levels)
    assert len(model.levels) == sum(c["weight"] > 0 for c in levels.values())
    loss, logs = model(*BATCH)
    loss.backward()
    assert set(model.levels) <= set(logs) and math.isfinite(logs["loss"])
    unused = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert unused == []
    for name in model.levels:
        assert model.logit_scales[name].grad.abs() > 0, name
        # The output bias of a token-weight MLP shifts every logit of its softmax alike: its gradient is 0 exactly.
        shifts = ("text_weight.2.bias", "video_weight.2.bias")
        params = [p for n, p in model.heads[name].named_parameters() if not n.endswith(shifts)]
        assert all(p.grad.abs().sum() > 0 for p in params), name
    clip = model.encoder.backbone.clip
    for param in (clip.visual.conv1.weight, clip.token_embedding.weight, *model.encoder.temporal.parameters()):
        assert param.grad.abs().sum() > 0


def test_seq_transformer_without_a_frame_level_is_a_config_error():
    with pytest.raises(ConfigError, match="model.temporal.type: seqTransf would train nothing"):
        tiny_model(temporal={"type": "seqTransf"}, levels=single_level("patch_word"))


def test_momentum_contrast_fills_the_queue_and_moves_the_key_encoder():
    model = tiny_model(levels={"frame_sentence": {"weight": 1}}, loss={"momentum": {"enabled": True, "queue_size": 6}})
    momentum = model.momentum
    key_before = {n: p.clone() for n, p in momentum.key_encoder.named_parameters()}
    with torch.no_grad():  # perturb the online encoder so that the average moves
        for p in model.encoder.parameters():
            p.add_(0.01)
    text, video = model.encode_text(BATCH[0]), model.encode_video(BATCH[1], BATCH[2])
    assert text.key.shape == (4, 64) and video.key.shape == (4, 64)
    loss, logs = model.loss(text, video)
    loss.backward()
    assert logs["momentum"] > 0 and "logit_scale/momentum" in logs
    assert torch.allclose(momentum.text_queue[:4], text.key) and torch.allclose(momentum.video_queue[:4], video.key)
    assert int(momentum.pointer) == 4
    m = model.cfg.loss.momentum.momentum
    online = dict(model.encoder.named_parameters())
    for name, param in momentum.key_encoder.named_parameters():
        assert torch.allclose(param, m * key_before[name] + (1 - m) * online[name].detach(), atol=1e-6), name
    model.loss(model.encode_text(BATCH[0]), model.encode_video(BATCH[1], BATCH[2]))
    assert int(momentum.pointer) == 2  # wrapped around a queue of 6
    model.eval()
    assert model.encode_text(BATCH[0]).key is None  # keys are a training-time thing


def test_decorrelation_penalty_by_hand_and_in_the_loss():
    a = torch.randn(5, 3)
    corr = channel_correlation(a, a, torch.ones(5), 5)
    assert torch.allclose(torch.diagonal(corr), torch.full((3,), 4 / 5))  # unbiased std, divided by N
    assert torch.allclose(decorrelation_penalty(corr, 0.0), torch.tensor(3 * (1 / 5) ** 2))
    off = (corr - torch.diag_embed(torch.diagonal(corr))).pow(2).sum()
    assert torch.allclose(decorrelation_penalty(corr, 0.5), torch.tensor(3 * (1 / 5) ** 2) + 0.5 * off)
    for levels in ({"frame_word": {"weight": 1}}, {"video_sentence": {"weight": 1}}):  # token and global variants
        model = tiny_model(levels=levels, loss={"decorrelation_weight": 0.1, "decorrelation_off_diagonal": 0.06})
        loss, logs = model(*BATCH)
        assert logs["decorrelation"] > 0
        assert math.isclose(logs["loss"], sum(model.cfg.levels.weight(n) * logs[n] for n in model.levels)
                            + 0.1 * logs["decorrelation"], rel_tol=1e-5)


def test_logit_scale_is_clamped_at_max_and_initialised_from_temperature():
    model = tiny_model(loss={"temperature_init": 0.001})
    _, logs = model(*BATCH)
    assert logs["logit_scale/video_sentence"] == pytest.approx(100.0)
    model = tiny_model(loss={"temperature_init": 0.05})
    assert float(model.logit_scale("video_sentence")) == pytest.approx(20.0)
    default = tiny_model()  # null: the backbone's own scale (1/0.07 at random init)
    assert float(default.logit_scale("video_sentence")) == pytest.approx(1 / 0.07, rel=1e-5)


def test_checkpoint_round_trip_gives_identical_scores(tmp_path):
    sections = {"temporal": {"type": "seqTransf"}, "levels": ALL_VARIANTS,
                "loss": {"momentum": {"enabled": True, "queue_size": 8}}}
    trained = tiny_model(seed=0, **sections)
    trained(*BATCH)[0].backward()  # fills part of the queue, so buffers are not at their init values
    torch.save(trained.state_dict(), tmp_path / "model.pt")
    restored = tiny_model(seed=1, **sections)
    restored.load_state_dict(torch.load(tmp_path / "model.pt", weights_only=True))
    for model in (trained, restored):
        model.eval()
    with torch.no_grad():
        scores = [m.score(m.encode_text(BATCH[0]), m.encode_video(BATCH[1], BATCH[2])) for m in (trained, restored)]
    for level in scores[0]:
        assert torch.equal(scores[0][level], scores[1][level]), level
    assert torch.equal(trained.momentum.text_queue, restored.momentum.text_queue)


def test_features_concatenate_slice_and_cache():
    model = tiny_model(levels=ALL_LEVELS).eval()
    with torch.no_grad():
        text = model.encode_text(BATCH[0])
        short = model.encode_video(BATCH[1][:2, :2], mask([2, 1], 2))
        long = model.encode_video(BATCH[1][2:], BATCH[2][2:])
    both = VideoFeatures.cat([short, long])
    assert len(both) == 4 and both.frames.shape[1] == 3 and both.patches.shape[:2] == (4, 3)
    assert both.frame_mask.dtype == torch.bool and not both.frame_mask[:2, 2].any()
    assert torch.equal(both[2:].frames, long.frames) and torch.equal(both[1].frames[:, :2], short[1].frames)
    assert not both[1].frames[:, 2].any()  # padding is zeros
    picked = text[torch.tensor([3, 0])]
    assert torch.equal(picked.words, text.words[[3, 0]]) and picked.key is None
    restored = TextFeatures.from_state({k: v.clone() for k, v in text.state().items()})
    assert restored.state().keys() == {"sentence", "words", "word_mask"}
    assert all(torch.equal(restored.state()[k], v) for k, v in text.state().items())
    assert not text.detach().sentence.requires_grad and text.to("cpu").sentence.device.type == "cpu"
    with pytest.raises(ValueError, match="unknown field"):
        VideoFeatures.from_state({"frames": both.frames, "frame_mask": both.frame_mask, "bogus": both.frames})
