"""model.method: clip4clip (meanP, seqTransf) against the official CLIP4Clip (ArrowLuo/CLIP4Clip at 508ffa3).

The fixtures were written by the official code, run outside tvrkit:

    cd /work/ref/clip4clip && .venv/bin/python /work/ref/golden/make_clip4clip.py OUT

``make_clip4clip.py`` saves a seeded random tiny OpenAI-layout CLIP (``openai-tiny/``, see
methods_golden.py), builds ``CLIP4Clip.from_pretrained`` from it for each ``--sim_header`` (loose
type, ``--cross_num_hidden_layers 2``, a cross config of width 64), records the fresh model's eval
logits (``init_eval``: the init from CLIP's text layers and 77-row position table), moves every
parameter as training would, saves ``model.state_dict()`` as main_task_retrieval.save_model does
(``clip4clip/H/pytorch_model.bin.0``, CLIP's conv/linear weights in fp16 from convert_weights) and
records, in fp32 on CPU, ``get_similarity_logits`` in eval mode (``eval``) and ``forward``'s
training loss on the first 4 pairs (``loss``).
"""

from __future__ import annotations

import pytest
import torch
from methods_golden import FIXTURES, PRETRAINED, assert_same_scores, backbone, inputs, recipe, scores, train_loss

from tvrkit.errors import ConfigError
from tvrkit.models import build_model, load_checkpoint
from tvrkit.models.config import load_model_config

HEADERS = ("meanP", "seqTransf")


def _config(header: str, **backbone_extra: object) -> dict:
    return {"method": "clip4clip", "backbone": backbone(**backbone_extra),
            "clip4clip": {"temporal": {"type": header, "layers": 2}}}


def _checkpoint(header: str):
    return FIXTURES / "clip4clip" / header / "pytorch_model.bin.0"


def _golden(header: str) -> dict:
    return torch.load(FIXTURES / "clip4clip" / header / "golden.pt")


@pytest.mark.parametrize("header", HEADERS)
def test_official_checkpoint_scores_and_loss_equal_the_official_code(header):
    model = load_checkpoint(_checkpoint(header), config=_config(header))
    golden, data = _golden(header), inputs()
    assert_same_scores(scores(model, data), golden["eval"])
    assert train_loss(model, data) == pytest.approx(float(golden["loss"]), abs=1e-5)


@pytest.mark.parametrize("header", HEADERS)
def test_the_shipped_recipe_scores_as_the_official_code(header):
    model_cfg = recipe(f"msrvtt-clip4clip-{header.lower()}-vit-b32.yaml", layers=2)
    assert_same_scores(scores(load_checkpoint(_checkpoint(header), config=model_cfg), inputs()),
                       _golden(header)["eval"])


@pytest.mark.parametrize("header", HEADERS)
def test_short_videos_score_as_their_real_frames_whatever_the_padding(header):
    """Masks hold: a 4-frame video scores the same padded to 12 frames or to 6."""
    model = load_checkpoint(_checkpoint(header), config=_config(header))
    data = inputs()
    short = slice(5, 6)  # 4 real frames
    with torch.no_grad():
        text = model.encode_text(data["tokens"])
        twelve = model.encode_video(data["frames"][short], data["frame_mask"][short])
        six = model.encode_video(data["frames"][short, :6], data["frame_mask"][short, :6])
        assert torch.allclose(model.score(text, twelve)["total"], model.score(text, six)["total"], atol=1e-5)


@pytest.mark.parametrize("header", HEADERS)
def test_plain_openai_state_dict_as_pretrained_builds_the_official_initial_model(header):
    """backbone.pretrained = a bare OpenAI-layout state dict: QuickGELU is detected, and seqTransf
    starts from CLIP's text layers and position table, so the fresh model scores as the official
    from_pretrained does; forcing GELU visibly does not."""
    data = inputs()
    model = build_model(load_model_config(base=_config(header, pretrained=str(PRETRAINED)))).eval()
    assert model.backbone.quick_gelu
    official = _golden(header)["init_eval"]
    assert_same_scores(scores(model, data), official)
    gelu = build_model(load_model_config(base=_config(header, pretrained=str(PRETRAINED), quick_gelu=False))).eval()
    assert not gelu.backbone.quick_gelu
    with torch.no_grad():
        assert (scores(gelu, data) - official).abs().max() > 1e-3 * (official.max() - official.min())


def test_seqtransf_checkpoint_with_the_meanp_config_names_the_extra_keys():
    with pytest.raises(ConfigError, match="unexpected: .*temporal.position.weight"):
        load_checkpoint(_checkpoint("seqTransf"), config=_config("meanP"))


def test_meanp_total_ranks_as_the_global_embeddings():
    """total_is_global: the coarse stage (unit sentence . unit video vector) already ranks by total."""
    model = load_checkpoint(_checkpoint("meanP"), config=_config("meanP"))
    data = inputs()
    with torch.no_grad():
        text = model.encode_text(data["tokens"])
        video = model.encode_video(data["frames"], data["frame_mask"])
        dots = model.global_embeddings(text) @ model.global_embeddings(video).T
        assert torch.equal(dots.argsort(1), model.score(text, video)["total"].argsort(1))
