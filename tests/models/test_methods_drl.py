"""model.method: drl against the official DRL (foolwood/DRL at 475f96c) and BackBone_tvr
(shallowdream66/BackBone_tvr at 5bb74ad).

The fixtures were written by the official code, run outside tvrkit:

    .venv/bin/python /work/ref/golden/make_drl.py OUT

``make_drl.py`` builds DRL with scripts/msrvtt.sh's "Weighted Token-wise Interaction + CDCR" flags
(``--agg_module seqTransf --interaction wti --wti_arch 2 --cdcr 3 --cdcr_alpha1 0.14 --cdcr_alpha2 0.0
--cdcr_lambda 0.001``; 4 temporal layers, hard-coded) and BackBone_tvr (its README command) on the tiny
CLIP of methods_golden.py (linked as tvr/models/ViT-B-32.pt, where both read CLIP), applies
convert_weights as both do on a GPU, moves every parameter as training would and saves
``model.state_dict()`` as save_model does (``drl/pytorch_model.bin.0``; BackBone_tvr's model, built
with the same seeds, has the same keys and tensors, which the script asserts). It records in fp32 on
CPU ``get_similarity_logits`` in eval mode over the 6 captions and 7 videos (2 of them short) and
``forward``'s training loss on the first 4 pairs, with CDCR (``drl/golden.pt``) and without
(``drl/backbone_tvr/golden.pt``).
"""

from __future__ import annotations

import pytest
import torch
from methods_golden import (
    FIXTURES,
    FULL,
    assert_same_scores,
    backbone,
    inputs,
    recipe,
    relative_deviation,
    scores,
    train_loss,
)

from tvrkit.errors import ConfigError
from tvrkit.models import load_checkpoint
from tvrkit.models.features import TextFeatures, VideoFeatures
from tvrkit.models.methods.drl.model import TokenInteraction, decorrelation_loss

CHECKPOINT = FIXTURES / "drl" / "pytorch_model.bin.0"
GOLDEN = {True: FIXTURES / "drl" / "golden.pt", False: FIXTURES / "drl" / "backbone_tvr" / "golden.pt"}


def _config(padding: str = "official", cdcr: bool = True) -> dict:
    return {"method": "drl", "backbone": backbone(),
            "drl": {"temporal": {"type": "seqTransf", "layers": 4}, "padding": padding, "cdcr": cdcr}}


@pytest.mark.parametrize("cdcr", [True, False], ids=["drl", "backbone_tvr"])
def test_official_checkpoint_scores_and_loss_equal_the_official_code(cdcr):
    model = load_checkpoint(CHECKPOINT, config=_config(cdcr=cdcr))
    golden, data = torch.load(GOLDEN[cdcr]), inputs()
    assert_same_scores(scores(model, data), golden["eval"])
    assert train_loss(model, data) == pytest.approx(float(golden["loss"]), abs=1e-5)


def test_the_shipped_recipe_scores_as_the_official_code():
    model = load_checkpoint(CHECKPOINT, config=recipe("msrvtt-drl-vit-b32.yaml"))
    assert_same_scores(scores(model, inputs()), torch.load(GOLDEN[True])["eval"])
    assert train_loss(model, inputs()) == pytest.approx(float(torch.load(GOLDEN[True])["loss"]), abs=1e-5)


def test_cdcr_is_the_whole_loss_difference_between_drl_and_backbone_tvr():
    model = load_checkpoint(CHECKPOINT, config=_config())
    data = inputs()
    model.train()
    with torch.no_grad():
        loss, logs = model(data["tokens"][:4], data["frames"][:4], data["frame_mask"][:4])
    official_gap = float(torch.load(GOLDEN[True])["loss"] - torch.load(GOLDEN[False])["loss"])
    assert 0.001 * logs["cdcr"] == pytest.approx(official_gap, abs=1e-5) and official_gap > 1e-3
    assert float(loss) == pytest.approx(logs["contrastive"] + 0.001 * logs["cdcr"], abs=1e-6)


def test_masked_padding_lets_no_padded_token_win_a_maximum():
    """tvrkit's default: a caption's padding and a short video's empty slots never score. On this
    random model many similarities are negative, so the official zero-filled maxima differ."""
    data = inputs()
    masked = scores(load_checkpoint(CHECKPOINT, config=_config(padding="masked")), data)
    official = torch.load(GOLDEN[True])["eval"]
    assert relative_deviation(masked, official) > 1e-2
    model = load_checkpoint(CHECKPOINT, config=_config(padding="masked"))
    with torch.no_grad():  # each caption unpadded (its own length) scores as padded to 32 tokens
        video = model.encode_video(data["frames"][:FULL], data["frame_mask"][:FULL])
        full = model.score(model.encode_text(data["tokens"]), video)["total"]
        for row, length in enumerate((data["tokens"] != 0).sum(1).tolist()):
            alone = model.score(model.encode_text(data["tokens"][row : row + 1, :length]), video)["total"]
            assert torch.allclose(alone[0], full[row], atol=1e-6)


@pytest.mark.parametrize("zero_padding", [True, False], ids=["official", "masked"])
def test_cdcr_is_finite_when_every_frame_picks_the_same_word(zero_padding):
    """CLIP's causal start token is the same vector for every caption; when it is every frame's most
    similar word (the tiny model at initialisation, seed 2 of tvrkit compare), the frames' partner
    words are one row repeated, every channel has zero spread and the official ``/ std(0)`` gave a
    NaN loss at step 4. Such channels carry no correlation: loss and gradient stay finite."""
    gen = torch.Generator().manual_seed(0)
    batch, length, frames, dim = 4, 5, 3, 8
    start = torch.randn(dim, generator=gen)
    words = -torch.rand(batch, length, dim, generator=gen) * start.sign()  # every real word opposes the frames
    words[:, 0] = start  # the start token: one vector for every caption, the frames' best word
    video = start + 0.1 * torch.randn(batch, frames, dim, generator=gen)
    words.requires_grad_(True)
    video.requires_grad_(True)
    word_mask = torch.ones(batch, length, dtype=torch.bool)
    word_mask[:, 3:] = False
    text = TextFeatures(sentence=words[:, 0], words=words, word_mask=word_mask)
    vid = VideoFeatures(frames=video, frame_mask=torch.ones(batch, frames, dtype=torch.bool))
    loss = decorrelation_loss(text, vid, TokenInteraction(dim), off_diagonal=0.0, on_diagonal=0.14,
                              zero_padding=zero_padding)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(words.grad).all() and torch.isfinite(video.grad).all()


def test_a_clip4clip_checkpoint_is_named_when_loaded_as_drl():
    with pytest.raises(ConfigError, match="looks like a clip4clip checkpoint"):
        load_checkpoint(FIXTURES / "clip4clip" / "seqTransf" / "pytorch_model.bin.0", config=_config())


@pytest.mark.slow
def test_tvrkit_eval_evaluates_an_official_checkpoint_with_its_recipe(tmp_path):
    """`tvrkit eval --checkpoint pytorch_model.bin.0 --config RECIPE.yaml`: a train config's data and
    model sections apply and a bare state dict in DRL's key layout is loaded and ranked. (The golden
    checkpoint's 512-word vocabulary cannot read real captions, so this one is a tvrkit-tiny DRL
    written in the official layout.)"""
    import yaml
    from click.testing import CliRunner
    from eval_testdata import DATA, make_eval_root

    from tvrkit.cli import cli
    from tvrkit.models import build_model
    from tvrkit.models.config import load_model_config

    config = yaml.safe_load((FIXTURES.parents[2] / "tvrkit" / "configs" / "msrvtt-drl-vit-b32.yaml").read_text())
    config["data"] = {**DATA, "root": str(make_eval_root(tmp_path / "root"))}
    config["model"]["backbone"] = {"arch": "tvrkit-tiny"}
    config["model"]["drl"]["temporal"]["layers"] = 1
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(config))
    official = {"backbone.clip.": "clip.", "temporal.position.": "frame_position_embeddings.",
                "temporal.transformer.": "transformerClip.", "interaction.text_weight.": "text_weight_fc.",
                "interaction.video_weight.": "video_weight_fc."}
    state = build_model(load_model_config(base=config["model"])).state_dict()
    renamed = {}
    for key, value in state.items():
        prefix = next(p for p in official if key.startswith(p))
        renamed[official[prefix] + key[len(prefix):]] = value
    torch.save(renamed, tmp_path / "pytorch_model.bin.0")
    out = tmp_path / "eval"
    result = CliRunner().invoke(cli, ["eval", "--checkpoint", str(tmp_path / "pytorch_model.bin.0"), "--config",
                                      str(tmp_path / "recipe.yaml"), "--set", f"out={out}",
                                      "--set", "report.enabled=false", "--set", "plots=false"])
    assert result.exit_code == 0, result.output
    assert (out / "metrics.json").is_file()
