"""Model config: schema and dataclass agree, shipped architectures are the schema's, bad configs
fail before any work with the dotted key."""

from __future__ import annotations

import json

import pytest

from tvrkit.config import from_dict, resolve_config, to_dict
from tvrkit.config.schema import load_schema, resolve_ref
from tvrkit.errors import ConfigError
from tvrkit.models import LEVELS, ModelConfig, load_model_config
from tvrkit.models.backbone import shipped_archs


def _walk(node: dict, path: str = ""):
    for key, raw in node.get("properties", {}).items():
        prop = resolve_ref(raw)  # the per-method option schemas live in their own files
        yield f"{path}{key}", prop
        yield from _walk(prop, f"{path}{key}.")


def test_schema_defaults_are_the_dataclass_defaults():
    assert from_dict(ModelConfig, resolve_config("model", {})) == ModelConfig()
    assert to_dict(ModelConfig()) == resolve_config("model", {})


def test_every_key_has_a_default_and_a_description_and_objects_are_closed():
    for key, prop in _walk(load_schema("model")):
        assert "default" in prop and prop.get("description"), key
        if prop.get("type") == "object":
            assert prop.get("additionalProperties") is False, key


def test_default_is_vit_b_32_with_only_the_global_level():
    cfg = ModelConfig()
    assert cfg.backbone.model_name == "ViT-B-32" and cfg.backbone.pretrained is None
    assert cfg.levels.enabled() == ("video_sentence",)
    assert cfg.loss.max_logit_scale == 100


def test_arch_enum_lists_exactly_the_shipped_architectures():
    enum = load_schema("model")["properties"]["backbone"]["properties"]["arch"]["enum"]
    assert sorted(a for a in enum if a is not None) == list(shipped_archs())


def test_levels_in_the_schema_are_LEVELS():
    assert tuple(load_schema("model")["properties"]["levels"]["properties"]) == LEVELS


def test_overrides_are_typed_and_select_any_combination(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_text(json.dumps({"levels": {"video_sentence": {"weight": 0}}}))
    cfg = load_model_config(path, overrides=["levels.frame_word.weight=0.5", "levels.patch_word.weight=2"])
    assert cfg.levels.enabled() == ("frame_word", "patch_word")
    assert cfg.levels.weight("frame_word") == 0.5 and isinstance(cfg.levels.patch_word.weight, float)


@pytest.mark.parametrize(
    ("override", "where"),
    [
        ("temporal.type=lstm", "temporal.type"),
        ("levels.frame_sentence.aggregation=max", "levels.frame_sentence.aggregation"),
        ("levels.patch_word.keep_patches=0", "levels.patch_word.keep_patches"),
        ("backbone.arch=tiny", "backbone.arch"),
        ("loss.momentum.momentum=1.0", "loss.momentum.momentum"),
    ],
)
def test_invalid_values_name_their_dotted_key(override, where):
    with pytest.raises(ConfigError, match=where):
        load_model_config(overrides=[override])


def test_unknown_key_is_refused():
    with pytest.raises(ConfigError, match="levels.frame_word.topk"):
        load_model_config(base={"levels": {"frame_word": {"topk": 3}}})
