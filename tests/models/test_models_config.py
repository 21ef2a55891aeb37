"""Model config: the schema is generated from the options dataclasses (defaults and descriptions in
one place), ``model.method`` is one of the discovered methods, bad configs fail before any work
with the dotted key."""

from __future__ import annotations

import dataclasses

import pytest

from tvrkit.config import to_dict
from tvrkit.config.schema import load_schema
from tvrkit.errors import ConfigError
from tvrkit.models import ModelConfig, load_model_config, method_names
from tvrkit.models.backbone import shipped_archs


def _walk(node: dict, path: str = ""):
    for key, prop in node.get("properties", {}).items():
        yield f"{path}{key}", prop
        yield from _walk(prop, f"{path}{key}.")


def test_every_key_has_a_default_and_a_description_and_objects_are_closed():
    for key, prop in _walk(load_schema("model")):
        assert "default" in prop and prop.get("description"), key
        if prop.get("type") == "object":
            assert prop.get("additionalProperties") is False, key


def test_default_is_clip4clip_seqtransf_on_vit_b_32():
    cfg = ModelConfig()
    assert cfg.backbone.model_name == "ViT-B-32" and cfg.backbone.pretrained is None
    assert cfg.method == "clip4clip" and cfg.options.temporal.type == "seqTransf"


def test_method_enum_and_sections_come_from_the_registry():
    properties = load_schema("model")["properties"]
    assert properties["method"]["enum"] == list(method_names())
    assert set(method_names()) <= set(properties)


def test_arch_enum_lists_exactly_the_shipped_architectures():
    enum = load_schema("model")["properties"]["backbone"]["properties"]["arch"]["enum"]
    assert sorted(a for a in enum if a is not None) == list(shipped_archs())


def test_overrides_are_typed_and_reach_the_chosen_methods_options(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_text("method: xpool\n")
    cfg = load_model_config(path, overrides=["xpool.dropout=0.1", "xpool.heads=2"])
    assert cfg.options.dropout == 0.1 and cfg.options.heads == 2 and isinstance(cfg.options.dropout, float)
    meanp = load_model_config(overrides=["clip4clip.temporal.type=meanP"])
    assert meanp.options.temporal.type == "meanP"
    assert to_dict(cfg) == {"method": "xpool", "backbone": to_dict(cfg.backbone), "xpool": {"heads": 2,
                                                                                            "dropout": 0.1}}


@pytest.mark.parametrize(
    ("override", "where"),
    [
        ("clip4clip.temporal.type=lstm", "clip4clip.temporal.type"),
        ("method=nope", "method"),
        ("backbone.arch=tiny", "backbone.arch"),
        ("xpool.dropout=2", "xpool.dropout"),
        ("hmmc.pretrain.momentum=1.0", "hmmc.pretrain.momentum"),
    ],
)
def test_invalid_values_name_their_dotted_key(override, where):
    with pytest.raises(ConfigError, match=where):
        load_model_config(overrides=[override])


def test_unknown_key_is_refused():
    with pytest.raises(ConfigError, match="xpool.topk"):
        load_model_config(base={"method": "xpool", "xpool": {"topk": 3}})


def test_another_methods_options_are_refused():
    with pytest.raises(ConfigError, match="model.drl: options of method drl, but model.method is xpool"):
        load_model_config(base={"method": "xpool", "drl": {"cdcr": False}})


def test_options_must_be_the_methods_own():
    xpool = load_model_config(base={"method": "xpool"})
    with pytest.raises(TypeError, match="options of model.method drl must be DrlOptions"):
        dataclasses.replace(xpool, method="drl")
