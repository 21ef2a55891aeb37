"""The method registry and ``load_checkpoint``: layouts are detected from the file, every key is
accounted for, the activation follows the weights' origin, mismatches name what is wrong."""

from __future__ import annotations

import open_clip
import pytest
import torch
from model_testdata import tiny_config, tiny_model, tokens

from tvrkit.config import to_dict
from tvrkit.errors import ConfigError
from tvrkit.models import build_model, load_checkpoint
from tvrkit.models.backbone import is_openai_state_dict, register_archs
from tvrkit.models.checkpoints import read_checkpoint
from tvrkit.models.methods import get_method, method_names
from tvrkit.models.methods.layouts import openai_clip_to_backbone, rename, strip_module_prefix


def _tvrkit_checkpoint(model, path, quick_gelu=None):
    torch.save({"format": 1, "model": model.state_dict(), "config": {"model": to_dict(model.cfg)},
                "quick_gelu": quick_gelu}, path)


def test_registry_names_every_method_and_refuses_unknown_ones():
    assert {"clip4clip", "xpool", "drl", "ucofia", "eercf", "vscha", "hmmc"} <= set(method_names())
    assert get_method("clip4clip").name == "clip4clip"
    with pytest.raises(ConfigError, match="unknown method 'nope'; one of clip4clip, drl"):
        get_method("nope")


def test_tvrkit_checkpoint_round_trip_without_and_with_config(tmp_path):
    model = tiny_model(seed=3, clip4clip={"temporal": {"layers": 1}}).eval()
    path = tmp_path / "last.pt"
    _tvrkit_checkpoint(model, path)
    assert read_checkpoint(path).layout == "tvrkit"
    toks = tokens(2, 12)
    for config in (None, model.cfg, {"model": to_dict(model.cfg)}):
        loaded = load_checkpoint(path, config=config)
        assert not loaded.training
        for key, value in model.state_dict().items():
            assert torch.equal(loaded.state_dict()[key], value), key
        with torch.no_grad():
            assert torch.equal(loaded.encode_text(toks).sentence, model.encode_text(toks).sentence)


def test_tvrkit_checkpoint_keeps_the_activation_it_was_trained_with(tmp_path):
    path = tmp_path / "last.pt"
    _tvrkit_checkpoint(tiny_model(), path, quick_gelu=True)
    assert load_checkpoint(path).backbone_module.quick_gelu
    assert not load_checkpoint(path, tiny_config(backbone={"quick_gelu": False})).backbone_module.quick_gelu


def test_missing_unexpected_and_misshaped_keys_are_named(tmp_path):
    model = tiny_model()
    state = model.state_dict()
    state.pop("backbone.clip.visual.proj")
    state["extra.weight"] = torch.zeros(1)
    torch.save({"format": 1, "model": state, "config": {"model": to_dict(model.cfg)}}, tmp_path / "a.pt")
    with pytest.raises(ConfigError, match=r"missing: backbone.clip.visual.proj.*unexpected: extra.weight"):
        load_checkpoint(tmp_path / "a.pt")
    _tvrkit_checkpoint(model, tmp_path / "b.pt")
    with pytest.raises(ConfigError, match="unexpected: temporal.position.weight"):
        load_checkpoint(tmp_path / "b.pt", tiny_config(clip4clip={"temporal": {"type": "meanP"}}))


def test_method_mismatch_and_unreadable_files_are_config_errors(tmp_path):
    path = tmp_path / "last.pt"
    _tvrkit_checkpoint(tiny_model(), path)
    with pytest.raises(ConfigError, match="trained with model.method clip4clip; the config says xpool"):
        load_checkpoint(path, tiny_config(method="xpool"))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="not a readable torch checkpoint"):
        load_checkpoint(tmp_path / "junk.pt", tiny_config())
    with pytest.raises(ConfigError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "absent.pt", tiny_config())
    torch.save({"head.weight": torch.zeros(2)}, tmp_path / "bare.pt")
    with pytest.raises(ConfigError, match="not an official clip4clip checkpoint"):
        load_checkpoint(tmp_path / "bare.pt", tiny_config())
    with pytest.raises(ConfigError, match="needs config="):
        load_checkpoint(tmp_path / "bare.pt")


def test_bare_openai_layout_state_dict_is_built_with_quick_gelu(tmp_path):
    """A converted ``ViT-B-32.pt`` (a plain state dict in OpenAI's layout) came from OpenAI's
    QuickGELU training: building it with GELU would move every score by about 1% of its range."""
    register_archs()
    torch.manual_seed(0)
    source = open_clip.create_model("tvrkit-tiny", pretrained=None, quick_gelu=True).eval()
    bare = tmp_path / "ViT-tiny.pt"
    torch.save(source.state_dict(), bare)
    assert is_openai_state_dict(bare)
    model = build_model(tiny_config(backbone={"pretrained": str(bare)})).eval()
    assert model.backbone_module.quick_gelu
    toks = tokens(2, 77)
    with torch.no_grad():
        assert torch.allclose(model.encode_text(toks).sentence, source.encode_text(toks), atol=1e-6)
    wrapped = tmp_path / "epoch_1.pt"  # open_clip's own training checkpoints keep the architecture's GELU
    torch.save({"epoch": 1, "state_dict": source.state_dict()}, wrapped)
    assert not is_openai_state_dict(wrapped)
    assert not build_model(tiny_config(backbone={"pretrained": str(wrapped)})).backbone_module.quick_gelu


def test_layout_helpers():
    t = torch.zeros(1)
    assert strip_module_prefix({"module.a": t, "module.b": t}).keys() == {"a", "b"}
    assert strip_module_prefix({"module.a": t, "b": t}).keys() == {"module.a", "b"}
    mapped, rest = openai_clip_to_backbone({"clip.visual.proj": t, "clip.vocab_size": t, "head.w": t})
    assert mapped.keys() == {"backbone.clip.visual.proj"} and rest.keys() == {"head.w"}
    assert rename({"a.x": t, "b": t, "c": t}, {"a.": "z.", "b": "y"}).keys() == {"z.x", "y", "c"}


def test_checkpoint_of_the_former_layout_loads_and_the_composable_model_is_refused(tmp_path):
    """Checkpoints written while ``temporal``, ``levels`` and ``loss`` were shared model sections."""
    model = tiny_model(seed=2, clip4clip={"temporal": {"layers": 1}}).eval()
    former = {"method": "clip4clip", "backbone": to_dict(model.cfg.backbone),
              "temporal": {"type": "seqTransf", "layers": 1, "max_positions": 64, "init_from_text": True},
              "levels": {"video_sentence": {"weight": 1.0}}, "loss": {"max_logit_scale": 100.0},
              "clip4clip": {}, "xpool": {"heads": 1, "dropout": 0.3}}
    torch.save({"format": 1, "model": model.state_dict(), "config": {"model": former}}, tmp_path / "old.pt")
    loaded = load_checkpoint(tmp_path / "old.pt")
    assert loaded.cfg == model.cfg
    torch.save({"format": 1, "model": {}, "config": {"model": {**former, "method": "custom"}}}, tmp_path / "c.pt")
    with pytest.raises(ConfigError, match="former composable model"):
        load_checkpoint(tmp_path / "c.pt")
