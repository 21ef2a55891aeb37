"""Key-layout helpers shared by the methods' ``map_official``: official checkpoints hold OpenAI's
CLIP under a prefix (``clip.`` in CLIP4Clip and its descendants), next to the method's own modules.

OpenAI's CLIP and open_clip's ``CLIP`` use the same parameter names for ViT models, so mapping the
backbone is a prefix change; OpenAI's dumps also carry three non-tensor hyper-parameters
(``input_resolution``, ``context_length``, ``vocab_size``) that open_clip does not have.
"""

from __future__ import annotations

from torch import Tensor

OPENAI_EXTRAS = ("input_resolution", "context_length", "vocab_size")
BACKBONE_PREFIX = "backbone.clip."


def strip_module_prefix(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Remove DDP's ``module.`` prefix when every key has it."""
    if state and all(k.startswith("module.") for k in state):
        return {k[len("module."):]: v for k, v in state.items()}
    return state


def split_prefix(state: dict[str, Tensor], prefix: str) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """``(inside, rest)``: the entries under ``prefix`` with the prefix removed, and all others."""
    inside = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    rest = {k: v for k, v in state.items() if not k.startswith(prefix)}
    return inside, rest


def openai_clip_to_backbone(
    state: dict[str, Tensor], prefix: str = "clip.", target: str = BACKBONE_PREFIX
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """``(mapped, rest)``: OpenAI-layout CLIP tensors under ``prefix`` renamed to ``target``
    (tvrkit's backbone), OpenAI's hyper-parameter entries dropped, and the remaining entries."""
    clip, rest = split_prefix(state, prefix)
    mapped = {target + k: v for k, v in clip.items() if k not in OPENAI_EXTRAS}
    return mapped, rest


def rename(state: dict[str, Tensor], mapping: dict[str, str]) -> dict[str, Tensor]:
    """Rename keys by exact name or by prefix (a mapping key ending in ``.``); keys that match
    nothing are kept as they are, so that the strict load names whatever is left over."""
    out = {}
    for key, value in state.items():
        new = key
        if key in mapping:
            new = mapping[key]
        else:
            for old, repl in mapping.items():
                if old.endswith(".") and key.startswith(old):
                    new = repl + key[len(old):]
                    break
        out[new] = value
    return out
