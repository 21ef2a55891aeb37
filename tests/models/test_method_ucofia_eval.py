"""`tvrkit eval --post sk` for model.method: ucofia: UCoFiA's per-level SK-norm (each level biased
by its own training-caption querybank scores, then the mean), recorded in metrics.json; on a tiny
generated dataset, with the golden tests' tiny architecture given CLIP's full vocabulary (real
captions) and random weights (tests/test_method_ucofia.py checks the scores and the per-level SK-norm
against the official code)."""

from __future__ import annotations

import json

import numpy as np
import open_clip
import pytest
import torch
from eval_testdata import DATA, make_eval_root
from repo_paths import FIXTURES

from tvrkit.config import to_dict
from tvrkit.eval.config import load_eval_config
from tvrkit.eval.run_eval import run_eval
from tvrkit.models import build_model
from tvrkit.models.config import load_model_config

FIXTURES = FIXTURES / "methods" / "ucofia"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("ucofia-eval")
    root = make_eval_root(base / "root")
    arch = json.loads((FIXTURES / "ucofia-tiny.json").read_text())
    arch["text_cfg"]["vocab_size"] = 49408
    (base / "ucofia-tiny-vocab.json").write_text(json.dumps(arch))
    open_clip.add_model_config(base / "ucofia-tiny-vocab.json")
    cfg = load_model_config(base={"method": "ucofia", "backbone": {"name": "ucofia-tiny-vocab"},
                                  "ucofia": {"temporal": {"type": "seqTransf", "layers": 1},
                                             "max_frames": DATA["max_frames"], "max_words": DATA["max_words"]}})
    torch.manual_seed(0)
    model = build_model(cfg)
    ckpt = base / "ckpt.pt"
    torch.save({"model": model.state_dict(), "config": {"data": {**DATA, "root": str(root)}, "model": to_dict(cfg)}},
               ckpt)
    return ckpt, base


def _eval(checkpoint, out, **options):
    return run_eval(load_eval_config(base={"checkpoint": str(checkpoint), "out": str(out),
                                           "report": {"enabled": False}, "plots": False, **options}))


@pytest.mark.slow
def test_eval_post_sk_normalises_each_level_with_the_training_captions(setup):
    ckpt, base = setup
    plain = _eval(ckpt, base / "none")
    doc = _eval(ckpt, base / "sk", post="sk")
    assert doc["post"] == "sk" and doc["transductive"] is False
    assert doc["protocol"]["post_params"] == {"iters": 4, "temperature": None}
    levels = doc["protocol"]["post_levels"]
    assert levels["querybank"] == doc["protocol"]["querybank"]["t2v"] == {
        "source": "split train captions", "size": 4, "transductive": False}
    assert levels["levels"]["patch_word"] == "unscaled"
    assert levels["levels"]["video_sentence"].startswith("logit-scaled (x ")
    assert levels["weights"] == pytest.approx({"video_sentence": 1 / 3, "frame_sentence": 1 / 3, "patch_word": 1 / 3})
    assert doc["protocol"]["querybank"]["v2t"] is None
    assert json.loads((base / "sk" / "metrics.json").read_text())["protocol"]["post_levels"] == levels
    assert "sk (iters=4" in (base / "sk" / "metrics.md").read_text()
    # the raw total is kept; the biases are per video, so each text's ranking changes and no
    # video query's does (video->text equals the unprocessed run)
    raw, post = np.load(base / "sk" / "sim.npy"), np.load(base / "sk" / "sim_post.npy")
    assert raw.shape == post.shape == (8, 4)
    assert not np.allclose(post - raw, (post - raw)[:, :1])
    assert doc["v2t"] == plain["v2t"]


@pytest.mark.slow
def test_eval_post_sk_transductive_and_other_post_processors_use_total(setup):
    ckpt, base = setup
    trans = _eval(ckpt, base / "sk-t", post="sk", transductive=True)
    assert trans["transductive"] is True
    assert trans["protocol"]["post_levels"]["querybank"]["source"] == "evaluated queries (transductive)"
    dsl = _eval(ckpt, base / "dsl", post="dsl")
    assert "post_levels" not in dsl["protocol"]
    assert dsl["protocol"]["querybank"]["t2v"]["source"].endswith("bank_sim.npy")
