"""Temporal modules (CLIP4Clip): ``frames [B, T, D], frame_mask [B, T] -> frames [B, T, D]``.

They run before any score, independent of the text, so their output is what eval caches.
``meanP`` leaves frames as they are (the method then treats a video as a set of frames: frame
order is invisible). ``seqTransf`` lets frames attend to each other with frame position embeddings
and adds the result back to its input; padded frames are excluded as attention keys, so they
change nothing for the real frames. It is CLIP4Clip's ``transformerClip`` (also DRL's, EERCF's):
TF-style LayerNorm with epsilon 1e-12 inside the square root (what ``nn.LayerNorm`` computes),
started from CLIP's first text layers and its position table.
"""

from __future__ import annotations

from functools import partial

import torch
from open_clip.transformer import LayerNorm, QuickGELU, Transformer
from torch import Tensor, nn

from tvrkit.models.backbone import ClipBackbone
from tvrkit.models.config import TemporalOptions


class MeanP(nn.Module):
    """No temporal modelling: the method's masked means and maxima are the pooling."""

    def forward(self, frames: Tensor, frame_mask: Tensor) -> Tensor:
        return frames


# CLIP4Clip's until_module.LayerNorm: "TF style", epsilon 1e-12.
LAYER_NORM_EPS = 1e-12


class SeqTransf(nn.Module):
    """A transformer over frame embeddings with learned frame positions (``positions`` rows),
    residual to its input. ``quick_gelu`` overrides the backbone's activation (CLIP4Clip's
    ``transformerClip`` always uses QuickGELU); ``init_from_text`` starts it from the first
    ``layers`` blocks and the position table of CLIP's text tower when their width matches."""

    def __init__(
        self,
        backbone: ClipBackbone,
        layers: int,
        positions: int,
        quick_gelu: bool | None = None,
        init_from_text: bool = True,
    ) -> None:
        super().__init__()
        width = backbone.embed_dim
        from_text = init_from_text and backbone.text_width == width and layers <= backbone.text_layers
        self.heads = backbone.text_heads if from_text else max(1, width // 64)
        self.position = nn.Embedding(positions, width)
        quick = backbone.quick_gelu if quick_gelu is None else quick_gelu
        self.transformer = Transformer(
            width,
            layers,
            self.heads,
            act_layer=QuickGELU if quick else nn.GELU,
            norm_layer=partial(LayerNorm, eps=LAYER_NORM_EPS),
        )
        if from_text:
            self._init_from_text(backbone)

    @torch.no_grad()
    def _init_from_text(self, backbone: ClipBackbone) -> None:
        # CLIP4Clip starts seqTransf from the text tower: a trained attention stack beats a random one.
        text = backbone.clip.transformer
        for block, source in zip(self.transformer.resblocks, text.resblocks, strict=False):
            block.load_state_dict(source.state_dict())
        rows = min(self.position.num_embeddings, backbone.clip.positional_embedding.shape[0])
        self.position.weight[:rows] = backbone.clip.positional_embedding[:rows]

    def forward(self, frames: Tensor, frame_mask: Tensor) -> Tensor:
        batch, length, _ = frames.shape
        if length > self.position.num_embeddings:
            raise ValueError(f"{length} frames exceed the {self.position.num_embeddings} frame positions")
        x = frames + self.position.weight[:length].to(frames.dtype)
        # Additive key mask, one [T, T] slice per (video, head) as nn.MultiheadAttention expects.
        key_bias = torch.zeros(batch, 1, length, dtype=frames.dtype, device=frames.device)
        key_bias = key_bias.masked_fill(~frame_mask[:, None, :], float("-inf"))
        attn_mask = key_bias.expand(batch, length, length).repeat_interleave(self.heads, dim=0)
        return self.transformer(x, attn_mask=attn_mask) + frames


def build_temporal(opts: TemporalOptions, backbone: ClipBackbone) -> nn.Module:
    """The temporal module of ``opts.type`` as CLIP4Clip-derived code builds it: seqTransf with
    CLIP's context-length position table (77 rows) and QuickGELU, started from the text tower."""
    if opts.type == "meanP":
        return MeanP()
    return SeqTransf(backbone, opts.layers, positions=backbone.context_length, quick_gelu=True)
