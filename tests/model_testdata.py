"""Shared builders for the model tests (no tests here): tiny configs, real tokens, random frames."""

from __future__ import annotations

from typing import Any

import torch

from tvrkit.models import ModelConfig, build_model, load_model_config

CAPTIONS = [
    "a red square appears and then a blue circle grows",
    "a blue circle grows and then a red square appears",
    "a green triangle moves to the left",
    "someone is cooking pasta in a small kitchen",
    "two dogs run across a snowy field",
    "a man plays the guitar on a stage while people dance",
]
def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Deep merge of config dicts (``b`` wins)."""
    out = dict(a)
    for key, value in b.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def tiny_config(**sections: Any) -> ModelConfig:
    """The tvrkit-tiny architecture with config ``sections`` merged in (validated by the schema); the
    method is the default one (CLIP4Clip seqTransf) unless ``method=`` names another."""
    return load_model_config(base=merge({"backbone": {"arch": "tvrkit-tiny"}}, sections))


def tiny_model(seed: int = 0, **sections: Any):
    torch.manual_seed(seed)
    return build_model(tiny_config(**sections))


def tokens(count: int, max_words: int = 32) -> torch.Tensor:
    from open_clip import tokenize

    return tokenize([CAPTIONS[i % len(CAPTIONS)] for i in range(count)], context_length=max_words)


def frames(count: int, length: int, size: int = 32, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(count, length, 3, size, size, generator=gen)


def mask(valid: list[int], length: int) -> torch.Tensor:
    """Frame mask of videos with ``valid[i]`` real frames first, then padding."""
    return torch.arange(length)[None, :] < torch.tensor(valid)[:, None]
