"""`tvrkit eval --model-config TRAIN.yaml`: the untrained (or zero-shot) model of a train
config, the baseline a trained run must beat. It must equal evaluating a checkpoint of the
same seeded initialisation."""

from __future__ import annotations

import json

import pytest
import yaml
from eval_testdata import DATA, make_checkpoint, make_eval_root, model_section

from tvrkit.errors import ConfigError
from tvrkit.eval.config import load_eval_config
from tvrkit.eval.run_eval import run_eval


@pytest.mark.slow
def test_untrained_eval_equals_a_checkpoint_of_the_same_init(tmp_path):
    root = make_eval_root(tmp_path / "root")
    ckpt = make_checkpoint(tmp_path / "ckpt.pt", root, seed=0)
    train_cfg = tmp_path / "train.yaml"
    train_cfg.write_text(yaml.safe_dump({"data": {**DATA, "root": str(root), "seed": 0}, "model": model_section()}))

    cfg = load_eval_config(base={"out": str(tmp_path / "untrained")}, model_config=train_cfg)
    assert cfg.checkpoint is None and cfg.model.backbone.arch == "tvrkit-tiny"
    untrained = run_eval(cfg)
    trained_path = run_eval(load_eval_config(base={"checkpoint": str(ckpt), "out": str(tmp_path / "ckpt")}))
    assert untrained["checkpoint"] is None
    assert untrained["t2v"] == trained_path["t2v"] and untrained["v2t"] == trained_path["v2t"]
    assert json.loads((tmp_path / "untrained" / "metrics.json").read_text())["n_videos"] == 4


def test_eval_needs_a_checkpoint_or_a_model_config(tmp_path):
    with pytest.raises(ConfigError, match="--model-config"):
        load_eval_config(base={"out": str(tmp_path)})
    train_cfg = tmp_path / "train.yaml"
    train_cfg.write_text("{}\n")
    with pytest.raises(ConfigError, match="not both"):
        load_eval_config(base={"checkpoint": "x.pt"}, model_config=train_cfg)
