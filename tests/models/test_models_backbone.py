"""Backbone: local checkpoints in OpenAI's and open_clip's layouts load through the path users
take (``build_model`` with ``backbone.pretrained``) with every tensor intact; the text tower takes
short token sequences; freezing and gradient checkpointing behave."""

from __future__ import annotations

import open_clip
import pytest
import torch
from model_testdata import tiny_config, tiny_model, tokens
from safetensors.torch import save_file
from torch import nn

from tvrkit.errors import ConfigError
from tvrkit.models import build_model
from tvrkit.models.backbone import register_archs

OPENAI_EXTRAS = {"input_resolution": 32, "context_length": 77, "vocab_size": 49408}


@pytest.fixture(scope="module")
def source() -> nn.Module:
    """A tiny open_clip CLIP with its own random weights: what the checkpoints hold."""
    register_archs()
    torch.manual_seed(123)
    return open_clip.create_model("tvrkit-tiny", pretrained=None).eval()


def _clip(model) -> nn.Module:
    return model.backbone.clip


def _assert_same_tensors(loaded: dict, expected: dict) -> None:
    assert sorted(loaded) == sorted(expected)
    for key, value in expected.items():
        assert loaded[key].dtype == torch.float32, key
        assert torch.equal(loaded[key], value.float()), key


def _write_torchscript_archive(state: dict, path) -> None:
    """A TorchScript archive holding ``state`` under the same dotted names, like OpenAI's releases."""
    root = nn.Module()
    for key, value in state.items():
        *parents, leaf = key.split(".")
        module = root
        for name in parents:
            if name not in module._modules:
                module.add_module(name, nn.Module())
            module = module._modules[name]
        module.register_buffer(leaf, value.clone())
    torch.jit.script(root).save(str(path))


def test_openai_torchscript_archive_loads_every_tensor(source, tmp_path):
    openai = open_clip.create_model("tvrkit-tiny", pretrained=None)
    openai.load_state_dict(source.state_dict())
    open_clip.convert_weights_to_lp(openai)  # OpenAI ships linear/conv/attention weights in fp16
    state = openai.state_dict()
    assert any(v.dtype == torch.float16 for v in state.values())
    archive = tmp_path / "ViT-tiny.pt"
    _write_torchscript_archive({**state, **{k: torch.tensor(v) for k, v in OPENAI_EXTRAS.items()}}, archive)

    model = build_model(tiny_config(backbone={"pretrained": str(archive)}))
    _assert_same_tensors(_clip(model).state_dict(), state)
    assert model.backbone.quick_gelu  # OpenAI weights were trained with QuickGELU

    explicit = build_model(tiny_config(backbone={"pretrained": str(archive), "quick_gelu": False}))
    assert not explicit.backbone.quick_gelu


@pytest.mark.parametrize("layout", ["ddp_state_dict", "safetensors"])
def test_open_clip_state_dicts_load_every_tensor(source, tmp_path, layout, caplog):
    state = source.state_dict()
    if layout == "safetensors":
        path = tmp_path / "open_clip_model.safetensors"
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:  # open_clip's training checkpoints: {"state_dict": ...} with DDP's "module." prefix
        path = tmp_path / "epoch_1.pt"
        torch.save({"epoch": 1, "state_dict": {f"module.{k}": v for k, v in state.items()}}, path)

    model = build_model(tiny_config(backbone={"pretrained": str(path)})).eval()
    _assert_same_tensors(_clip(model).state_dict(), state)
    assert "initialized randomly" not in caplog.text
    assert not model.backbone.quick_gelu
    toks = tokens(3, 77)
    with torch.no_grad():
        assert torch.allclose(model.encode_text(toks).sentence, source.encode_text(toks), atol=1e-6)


def test_checkpoint_of_another_architecture_is_a_config_error(source, tmp_path):
    path = tmp_path / "partial.pt"
    torch.save({k: v for k, v in source.state_dict().items() if k != "visual.proj"}, path)
    with pytest.raises(ConfigError, match="does not fit tvrkit-tiny"):
        build_model(tiny_config(backbone={"pretrained": str(path)}))
    with pytest.raises(ConfigError, match="no such file"):
        build_model(tiny_config(backbone={"pretrained": str(tmp_path / "missing.pt")}))


def test_architectures_without_vit_and_clip_text_tower_are_refused():
    with pytest.raises(ConfigError, match="model.backbone.name: RN50 has no ViT image tower"):
        build_model(tiny_config(backbone={"arch": None, "name": "RN50"}))
    with pytest.raises(ConfigError, match="unknown open_clip architecture"):
        build_model(tiny_config(backbone={"arch": None, "name": "ViT-Q-99"}))


def test_short_token_sequences_give_open_clip_sentence_and_word_tokens():
    backbone = tiny_model().eval().backbone
    short, full = tokens(4, 32), tokens(4, 77)
    with torch.no_grad():
        sentence, words, word_mask = backbone.encode_text(short)
        reference = backbone.clip.encode_text(full)
    # Causal attention: trailing padding cannot change the end token's output.
    assert torch.allclose(sentence, reference, atol=1e-5)
    assert words.shape == (4, 32, backbone.embed_dim)
    assert torch.equal(word_mask, short != 0)
    end = short.argmax(dim=1)
    assert torch.equal(sentence, words[torch.arange(4), end])
    with pytest.raises(ValueError, match="context length"):
        backbone.encode_text(tokens(1, 78))


def test_frame_and_patch_embeddings_match_open_clip(source):
    model = build_model(tiny_config()).eval()
    clip = _clip(model)
    clip.load_state_dict(source.state_dict())
    images = torch.randn(5, 3, model.image_size, model.image_size)
    with torch.no_grad():
        pooled, patches = model.backbone.encode_frames(images, with_patches=True)
        last = source.visual.forward_intermediates(images, indices=1, normalize_intermediates=True, output_fmt="NLC")
        assert torch.allclose(pooled, source.encode_image(images), atol=1e-6)
        assert torch.allclose(patches, last["image_intermediates"][-1] @ source.visual.proj, atol=1e-6)
    assert model.image_size == 32 and patches.shape == (5, 16, 64)


def test_freeze_layers_freezes_patch_embedding_and_first_blocks():
    model = tiny_model(backbone={"freeze_layers": 1})
    visual = _clip(model).visual
    frozen = [visual.conv1.weight, visual.class_embedding, visual.positional_embedding, visual.ln_pre.weight]
    frozen += list(visual.transformer.resblocks[0].parameters())
    trainable = list(visual.transformer.resblocks[1].parameters()) + [visual.proj]
    assert not any(p.requires_grad for p in frozen)
    assert all(p.requires_grad for p in trainable)
    assert all(p.requires_grad for p in _clip(model).transformer.parameters())  # text tower untouched
    with pytest.raises(ConfigError, match="freeze_layers"):
        tiny_model(backbone={"freeze_layers": 3})


def test_grad_checkpointing_changes_neither_loss_nor_gradients():
    from model_testdata import frames, mask

    batch = (tokens(3), frames(3, 4), mask([4, 2, 3], 4))
    results = []
    for enabled in (False, True):
        model = tiny_model(seed=5, backbone={"grad_checkpointing": enabled})
        loss, _ = model(*batch)
        loss.backward()
        results.append((loss.detach(), {n: p.grad for n, p in model.named_parameters() if p.grad is not None}))
    (loss_a, grads_a), (loss_b, grads_b) = results
    assert torch.allclose(loss_a, loss_b, atol=1e-6)
    assert grads_a.keys() == grads_b.keys()
    assert all(torch.allclose(grads_a[n], grads_b[n], atol=1e-5) for n in grads_a)
