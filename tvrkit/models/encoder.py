"""Text and video encoders: CLIP backbone, patch compression and temporal module.

Everything here is independent of the other modality, so its outputs (:class:`TextFeatures`,
:class:`VideoFeatures`) can be computed once per caption/video and cached. Only real frames go
through the image tower: padded frames cost nothing and cannot leak into any feature.
"""

from __future__ import annotations

from torch import Tensor, nn

from tvrkit.models.backbone import ClipBackbone
from tvrkit.models.compression import COMPRESSIONS
from tvrkit.models.config import ModelConfig
from tvrkit.models.features import TextFeatures, VideoFeatures
from tvrkit.models.ops import check_frame_mask
from tvrkit.models.temporal import build_temporal


def scatter_frames(values: Tensor, frame_mask: Tensor) -> Tensor:
    """``values [N, ...]`` of the N real frames -> ``[B, T, ...]`` with zeros at padded positions."""
    out = values.new_zeros(*frame_mask.shape, *values.shape[1:])
    return out.index_put((frame_mask,), values)


def embed_frames(backbone: ClipBackbone, frames: Tensor, frame_mask: Tensor) -> tuple[Tensor, Tensor]:
    """CLIP frame embeddings ``[B, T, D]`` of the real frames (padding is never encoded and stays
    zero) and the boolean mask, checked to give every video a frame."""
    frame_mask = frame_mask.bool()
    check_frame_mask(frame_mask)
    embedded, _ = backbone.encode_frames(frames[frame_mask], with_patches=False)
    return scatter_frames(embedded, frame_mask), frame_mask


class Encoder(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.backbone = ClipBackbone(cfg.backbone)
        self.temporal = build_temporal(cfg.temporal, self.backbone)
        self.keep_patches = cfg.levels.patch_word.keep_patches
        self.compress = COMPRESSIONS[cfg.levels.patch_word.mode]

    def encode_text(self, tokens: Tensor, words: bool) -> TextFeatures:
        """``tokens [B, L]`` -> sentence (and word tokens when ``words``)."""
        sentence, word_tokens, word_mask = self.backbone.encode_text(tokens)
        if not words:
            return TextFeatures(sentence=sentence)
        return TextFeatures(sentence=sentence, words=word_tokens, word_mask=word_mask)

    def encode_video(self, frames: Tensor, frame_mask: Tensor, patches: bool) -> VideoFeatures:
        """``frames [B, T, 3, H, W]``, ``frame_mask [B, T]`` -> frames after the temporal module
        (and compressed patches ``[B, T, K, D]`` when ``patches``)."""
        frame_mask = frame_mask.bool()
        check_frame_mask(frame_mask)
        embedded, patch_tokens = self.backbone.encode_frames(frames[frame_mask], with_patches=patches)
        frame_emb = scatter_frames(embedded, frame_mask)
        kept = None
        if patch_tokens is not None:
            kept = scatter_frames(self.compress(patch_tokens, embedded, self.keep_patches), frame_mask)
        return VideoFeatures(frames=self.temporal(frame_emb, frame_mask), frame_mask=frame_mask, patches=kept)
