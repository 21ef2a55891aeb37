"""``tvrkit.retrieval.model_source``: the one way eval and search name and load their model. An index
built from a train config must carry the identity eval keys its feature cache with, and a model
identity must change with anything that changes the features."""

from __future__ import annotations

import dataclasses

import pytest
import yaml
from eval_testdata import DATA, model_section

from tvrkit.errors import ConfigError
from tvrkit.eval.config import load_eval_config
from tvrkit.retrieval.model_source import load_model_source, model_identity, stored_sections


@pytest.fixture
def train_yaml(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump({"data": {**DATA, "root": str(tmp_path / "root"), "seed": 3},
                                    "model": model_section()}))
    return path


def test_search_and_eval_see_the_same_untrained_model(train_yaml):
    source = load_model_source(model_config=str(train_yaml))
    evaluated = load_eval_config(base={"out": "unused"}, model_config=train_yaml).model_source
    assert source == evaluated
    assert source.checkpoint is None and source.data.seed == 3
    assert model_identity(source) == model_identity(evaluated)


def test_the_identity_follows_the_seed_and_the_model(train_yaml):
    source = load_model_source(model_config=str(train_yaml))
    reseeded = dataclasses.replace(source, data=dataclasses.replace(source.data, seed=4))
    assert model_identity(reseeded) != model_identity(source)
    # frame settings are not the model: an index records them beside the identity
    refrained = dataclasses.replace(source, data=dataclasses.replace(source.data, max_frames=2))
    assert model_identity(refrained) == model_identity(source)


def test_exactly_one_of_checkpoint_and_model_config(train_yaml, tmp_path):
    with pytest.raises(ConfigError, match="--model-config"):
        stored_sections(None, None)
    with pytest.raises(ConfigError, match="not both"):
        stored_sections("x.pt", train_yaml)
    with pytest.raises(ConfigError, match="checkpoint not found"):
        load_model_source(checkpoint=str(tmp_path / "missing.pt"))
