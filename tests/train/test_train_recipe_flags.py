"""The training flags of the published recipes (issue: training recipes flag for flag): each shipped
``msrvtt-*-vit-b32`` config carries its official run's gather rule and GPU count, freeze rule, frame
sampling and optimizer; without one, training takes the exact gradient."""

from __future__ import annotations

import pytest

from tvrkit.errors import ConfigError
from tvrkit.train import load_train_config
from tvrkit.train.config import LoopConfig

# method: (gather_grad, reference_world_size (the README's --nproc_per_node), freeze rule, sampling, optimizer)
RECIPES = {
    "clip4clip-meanp": ("local", 4, "clip4clip", "clip4clip", "bertadam"),
    "clip4clip-seqtransf": ("local", 4, "clip4clip", "clip4clip", "bertadam"),
    "drl": ("local", 4, "tvrkit", "clip4clip", "bertadam"),
    "ucofia": ("local", 4, "clip4clip", "clip4clip", "bertadam"),
    "eercf": ("local", 4, "clip4clip", "eercf", "bertadam"),
    "hmmc": ("full", None, "tvrkit", "hmmc", "bertadam"),
    "xpool": ("full", None, "tvrkit", "xpool", "hf_adamw"),
    "vscha": ("full", None, "tvrkit", "xpool", "hf_adamw"),
}


@pytest.mark.parametrize("method", sorted(RECIPES))
def test_recipe_carries_its_training_flags(method):
    cfg = load_train_config(f"msrvtt-{method}-vit-b32")
    gather, ranks, freeze, sampling, optimizer = RECIPES[method]
    assert (cfg.train.gather_grad, cfg.train.reference_world_size) == (gather, ranks)
    assert (cfg.model.backbone.freeze, cfg.model.backbone.freeze_layers) == (freeze, 0)
    assert (cfg.data.train_sampling, cfg.data.eval_sampling) == (sampling, sampling)
    assert cfg.optim.type == optimizer


def test_default_gather_is_the_exact_gradient():
    assert LoopConfig().gather_grad == "full" and LoopConfig().reference_world_size is None


def test_hmmc_sampling_takes_at_most_its_30_frames():
    with pytest.raises(ConfigError, match="max_frames: 31"):
        load_train_config("msrvtt-hmmc-vit-b32", overrides=["data.max_frames=31"])
