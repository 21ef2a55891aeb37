"""Key-layout helpers shared by the methods' ``map_official``: official checkpoints hold OpenAI's
CLIP under a prefix (``clip.`` in CLIP4Clip and its descendants), next to the method's own modules.

OpenAI's CLIP and open_clip's ``CLIP`` use the same parameter names for ViT models, so mapping the
backbone is a prefix change; OpenAI's dumps also carry three non-tensor hyper-parameters
(``input_resolution``, ``context_length``, ``vocab_size``) that open_clip does not have.
"""

from __future__ import annotations

import torch
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


# Hugging Face ``CLIPModel`` (VSC-HA's backbone) -> OpenAI names. Per-layer keys first; the
# towers' own keys after. q/k/v projections become one ``in_proj`` (q, k, v stacked, as
# nn.MultiheadAttention holds them) and the two projections are stored transposed by OpenAI.
_HF_LAYER = {"self_attn.out_proj.": "attn.out_proj.", "layer_norm1.": "ln_1.", "layer_norm2.": "ln_2.",
             "mlp.fc1.": "mlp.c_fc.", "mlp.fc2.": "mlp.c_proj."}
_HF_TOWERS = {"text_model.encoder.layers.": "transformer.resblocks.",
              "vision_model.encoder.layers.": "visual.transformer.resblocks."}
_HF_NAMES = {
    "text_model.embeddings.token_embedding.weight": "token_embedding.weight",
    "text_model.embeddings.position_embedding.weight": "positional_embedding",
    "text_model.final_layer_norm.weight": "ln_final.weight",
    "text_model.final_layer_norm.bias": "ln_final.bias",
    "vision_model.embeddings.class_embedding": "visual.class_embedding",
    "vision_model.embeddings.patch_embedding.weight": "visual.conv1.weight",
    "vision_model.embeddings.position_embedding.weight": "visual.positional_embedding",
    "vision_model.pre_layrnorm.weight": "visual.ln_pre.weight",
    "vision_model.pre_layrnorm.bias": "visual.ln_pre.bias",
    "vision_model.post_layernorm.weight": "visual.ln_post.weight",
    "vision_model.post_layernorm.bias": "visual.ln_post.bias",
    "logit_scale": "logit_scale",
}
_HF_TRANSPOSED = {"text_projection.weight": "text_projection", "visual_projection.weight": "visual.proj"}
_HF_BUFFERS = ("text_model.embeddings.position_ids", "vision_model.embeddings.position_ids")


def hf_clip_to_openai(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """A Hugging Face ``CLIPModel`` state dict (``text_model.*``, ``vision_model.*``,
    ``visual_projection``, ``text_projection``, ``logit_scale``) in OpenAI's CLIP layout (the one
    :func:`openai_clip_to_backbone` takes). ``position_ids`` buffers (saved by older transformers)
    are dropped; keys that are not part of a CLIPModel are kept as they are, so that a strict load
    names them. A layer with only some of q/k/v is a ``ValueError``."""
    out: dict[str, Tensor] = {}
    qkv: dict[str, dict[str, Tensor]] = {}
    for key, value in state.items():
        if key in _HF_BUFFERS:
            continue
        if key in _HF_NAMES:
            out[_HF_NAMES[key]] = value
            continue
        if key in _HF_TRANSPOSED:
            out[_HF_TRANSPOSED[key]] = value.t().contiguous()
            continue
        tower = next((t for t in _HF_TOWERS if key.startswith(t)), None)
        if tower is None:
            out[key] = value
            continue
        index, rest = key[len(tower):].split(".", 1)
        block = f"{_HF_TOWERS[tower]}{index}."
        if rest.startswith("self_attn.") and rest[len("self_attn."):][:7] in ("q_proj.", "k_proj.", "v_proj."):
            part, kind = rest[len("self_attn."):].split(".", 1)  # kind: weight / bias
            qkv.setdefault(f"{block}attn.in_proj_{kind}", {})[part[0]] = value
            continue
        layer = next((old for old in _HF_LAYER if rest.startswith(old)), None)
        out[block + (_HF_LAYER[layer] + rest[len(layer):] if layer else rest)] = value
    for key, parts in qkv.items():
        if set(parts) != {"q", "k", "v"}:
            raise ValueError(f"Hugging Face CLIP layout: {key} needs q, k and v projections, found {sorted(parts)}")
        out[key] = torch.cat([parts["q"], parts["k"], parts["v"]])
    return out
