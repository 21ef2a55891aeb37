"""model.method: tmass against the official T-MASS code (Jiamian-Wang/T-MASS-text-video-retrieval at 417fdf1).

tests/fixtures/methods/tmass/ was written by the official code, run outside tvrkit (transformers 4.30.2
as its README pins) with

    /tmp/tmass-venv/bin/python tools/tmass_golden.py tiny --official CHECKOUT --out tests/fixtures/methods/tmass

on a seeded random tiny Hugging Face CLIPModel (``tmass-tiny.json`` is the same architecture for
open_clip) inside the official ``CLIPStochastic`` with perturbed heads, 4 frames, 5 trials:
``model_best.pth`` as ``Trainer._save_checkpoint`` writes it, and ``golden.pt`` with the inputs (8
captions of 5 videos: video 2 has 3 captions, video 0 two), X-Pool's ``cos(text, pool(video | text))``,
the radius of every pair, two runs of the official ``Trainer._valid_epoch_step`` (its own fresh
uniform draws, recorded; a fixed bank injected) with the trial choice it made and the matrix its
metrics read, and one training loss with its seed (pooling dropout off).
"""

from __future__ import annotations

import open_clip
import pytest
import torch
from repo_paths import FIXTURES

from tvrkit.config.load import read_yaml
from tvrkit.config.shipped import resolve_config_path
from tvrkit.errors import ConfigError
from tvrkit.models import load_checkpoint
from tvrkit.models.methods.tmass.model import TMASS

FIXTURES = FIXTURES / "methods"
TMASS_DIR = FIXTURES / "tmass"
CHECKPOINT = TMASS_DIR / "model_best.pth"
TOL = 1e-4  # of the official scores' range


def tiny(**options: object) -> dict:
    """The shipped MSR-VTT recipe's model section on the fixture's tiny CLIP (4 frames, 5 trials)."""
    open_clip.add_model_config(TMASS_DIR / "tmass-tiny.json")
    model = read_yaml(resolve_config_path("msrvtt-tmass-vit-b32"))["model"]
    model["backbone"] = {"name": "tmass-tiny"}
    model["tmass"] = {**model["tmass"], "max_frames": 4, "trials": 5, "dropout": 0.0, **options}
    return model


@pytest.fixture(scope="module")
def golden() -> dict:
    return torch.load(TMASS_DIR / "golden.pt")


@pytest.fixture(scope="module")
def encoded(golden):
    model = load_checkpoint(CHECKPOINT, config=tiny())
    inputs = golden["inputs"]
    with torch.no_grad():
        text = model.encode_text(inputs["tokens"])
        video = model.encode_video(inputs["frames"], torch.ones(inputs["frames"].shape[:2], dtype=torch.bool))
    return model, text, video


def assert_same(ours: torch.Tensor, official: torch.Tensor) -> None:
    """Equal to 1e-4 of the official range, with the same ranking of videos for every text."""
    span = float(official.max() - official.min())
    assert float((ours - official).abs().max()) <= TOL * span
    assert torch.equal(ours.argsort(dim=1), official.argsort(dim=1))


def official_draws(golden: dict) -> torch.Tensor:
    """The recorded draws ``[videos, trials, texts, D]`` (the official loop order) as ``[trials, texts, videos, D]``."""
    return golden["fresh"]["draws"].permute(1, 2, 0, 3)


def test_deterministic_score_and_radius_equal_the_official_code(encoded, golden):
    model, text, video = encoded
    with torch.no_grad():
        scores = model.score(text, video, block_size=3)
        log_var = model.radius(text.sentence, video.raw_frames, video.frame_mask)
    assert_same(scores["deterministic"], golden["deterministic"])
    official = golden["log_var"].transpose(0, 1)  # official [videos, texts, D]
    assert float((log_var - official).abs().max()) <= TOL * float(official.max() - official.min())


def test_trial_procedure_equals_the_official_test_with_its_draws_injected(encoded, golden):
    model, text, video = encoded
    with torch.no_grad():
        fresh = model.trial_scores(text, video, official_draws(golden))
        banked = model.trial_scores(text, video, golden["bank"]["bank"])
    assert_same(fresh, golden["fresh"]["honest"])
    assert_same(banked, golden["bank"]["honest"])
    assert not torch.allclose(fresh, banked, atol=1e-4)


def test_official_metric_matrix_is_reproduced_as_a_labelled_leak(encoded, golden):
    """Query q (the m-th caption of its video) against candidate j pooled by j's own m-th caption."""
    model, text, video = encoded
    text_video = golden["inputs"]["text_video"]
    leak = model.ground_truth_leak_scores(text, video, text_video, official_draws(golden))
    order = [int((text_video[:q] == text_video[q]).sum()) for q in range(len(text_video))]
    official = torch.stack([golden["fresh"]["leak"][text_video[q], m] for q, m in enumerate(order)])
    assert torch.equal(leak.isnan(), official.isnan())
    assert float((leak - official).nan_to_num().abs().max()) <= TOL * float(official.nan_to_num().abs().max())
    honest = model.trial_scores(text, video, official_draws(golden))
    own = torch.arange(len(text_video))
    assert torch.allclose(leak[own, text_video], honest[own, text_video], atol=1e-6)  # equal on true pairs
    known = ~leak.isnan()
    assert not torch.allclose(leak[known], honest[known], atol=1e-3)


def test_total_is_one_seeded_draw_independent_of_blocks_gallery_and_the_callers_rng(encoded):
    model, text, video = encoded
    state = torch.get_rng_state()
    with torch.no_grad():
        whole = model.score(text, video)
        blocked = model.score(text, video, block_size=2)
        part = model.score(text[2:6], video[1:4])
        bank = model.trial_scores(text, video, model.evaluation_draws())
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.allclose(whole["total"], blocked["total"], atol=1e-6)
    assert torch.allclose(whole["total"][2:6, 1:4], part["total"], atol=1e-6)
    assert torch.allclose(whole["total"], bank, atol=1e-6)
    assert (whole["total"] >= whole["deterministic"] - 0.5).all()
    other = load_checkpoint(CHECKPOINT, config=tiny(seed=25))
    with torch.no_grad():
        assert not torch.allclose(other.score(text, video)["total"], whole["total"], atol=1e-5)


def test_priors_draw_what_they_say():
    uniform = load_checkpoint(CHECKPOINT, config=tiny(trials=400)).evaluation_draws()
    normal = load_checkpoint(CHECKPOINT, config=tiny(trials=400, prior="normal", prior_std=3e-3)).evaluation_draws()
    assert uniform.shape == normal.shape == (400, 64)
    assert 0 <= float(uniform.min()) and float(uniform.max()) < 1 and abs(float(uniform.mean()) - 0.5) < 0.01
    assert abs(float(normal.std()) - 3e-3) < 1e-4 and abs(float(normal.mean())) < 1e-4


def test_training_loss_equals_the_official_loss_with_the_same_draw(golden):
    model = load_checkpoint(CHECKPOINT, config=tiny()).train()  # the recipe's support_loss_weight 0.8
    inputs, official = golden["inputs"], golden["train"]
    rows = official["rows"]
    text = model.encode_text(inputs["tokens"][rows])
    video = model.encode_video(inputs["frames"][inputs["text_video"][rows]], torch.ones(len(rows), 4, dtype=torch.bool))
    torch.manual_seed(int(official["seed"]))
    loss, parts = model.loss(text, video)
    assert float(loss.detach()) == pytest.approx(float(official["loss_all"]), abs=1e-5)
    assert parts["stochastic"] == pytest.approx(float(official["loss"]), abs=1e-5)
    assert parts["support"] == pytest.approx(float(official["loss_support"]), abs=1e-5)
    loss.backward()
    trainable = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert trainable == []  # DDP without find_unused_parameters needs every one


def test_padded_frames_give_the_radius_no_evidence_and_the_frame_count_is_fixed(encoded, golden):
    model, text, video = encoded
    frames = golden["inputs"]["frames"][:1]
    mask = torch.tensor([[True, True, False, False]])
    with torch.no_grad():
        short = model.encode_video(frames, mask)
        log_var = model.radius(text.sentence, short.raw_frames, short.frame_mask)
        cut = model.radius_proj.weight[:, :2]  # only the two real frames' cosines enter
        cosine = torch.einsum("nd,td->nt", torch.nn.functional.normalize(text.sentence, dim=-1),
                              torch.nn.functional.normalize(short.raw_frames[0, :2], dim=-1))
        assert torch.allclose(log_var[:, 0], cosine @ cut.T + model.radius_proj.bias, atol=1e-6)
    with pytest.raises(ValueError, match="model.tmass.max_frames is 4; this batch has 3 frame slots"):
        model.encode_video(frames[:, :3], mask[:, :3])


def test_checkpoint_layout_is_told_apart_from_x_pool():
    state = torch.load(CHECKPOINT)["state_dict"]
    assert TMASS.looks_like(state)
    assert "clip.text_model.embeddings.position_ids" in state  # transformers 4.30 saves the buffers
    with pytest.raises(ConfigError, match="looks like a tmass checkpoint"):
        load_checkpoint(CHECKPOINT, config={"method": "xpool", "backbone": {"name": "tmass-tiny"}})
    with pytest.raises(ConfigError, match="looks like a xpool checkpoint"):
        load_checkpoint(FIXTURES / "xpool" / "hf" / "model_best.pth", config=tiny())


@pytest.mark.parametrize("dataset", ["msrvtt", "lsmdc", "didemo"])
def test_recipes_carry_the_official_training_flags(dataset):
    """X-Pool's training (transformers' AdamW, its sampling, one process) and each README command's options."""
    from tvrkit.train import load_train_config

    cfg = load_train_config(f"{dataset}-tmass-vit-b32")
    assert (cfg.optim.type, cfg.optim.schedule, cfg.optim.backbone_lr) == ("hf_adamw", "hf_cosine", 1e-6)
    assert (cfg.data.train_sampling, cfg.data.eval_sampling, cfg.data.batch_size) == ("xpool", "xpool", 32)
    assert cfg.model.options.max_frames == cfg.data.max_frames == 12
    expected = {"msrvtt": (3e-5, 0.3, "uniform01", 0.8), "lsmdc": (1e-5, 0.3, "normal", 0.0),
                "didemo": (1e-5, 0.4, "uniform01", 0.0)}[dataset]
    opts = cfg.model.options
    assert (cfg.optim.lr, opts.dropout, opts.prior, opts.support_loss_weight) == expected
    assert opts.trials == 20 and opts.seed == 24
