"""Token-level heads: words against frames (DRL's WTI) and words against compressed patches
(UCoFiA / VSC-HA), both by weighted token-wise interaction with learned token weights.
"""

from __future__ import annotations

from torch import Tensor, nn

from tvrkit.models.config import FrameWordConfig, PatchWordConfig
from tvrkit.models.features import TextFeatures, VideoFeatures
from tvrkit.models.heads.base import Head
from tvrkit.models.ops import l2norm, masked_softmax, weighted_token_interaction


def _weight_mlp(dim: int) -> nn.Module:
    # DRL's wti_arch=2 weight branch: one hidden layer of the embedding width.
    return nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, 1))


class TokenInteraction(nn.Module):
    """Weighted token-wise interaction between text tokens and video tokens, ``[Nt, Nv]``.

    Token weights come from the raw (unnormalised) token features, as in DRL; similarities use
    unit tokens.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.text_weight = _weight_mlp(dim)
        self.video_weight = _weight_mlp(dim)

    def weights(self, tokens: Tensor, mask: Tensor, text: bool) -> Tensor:
        mlp = self.text_weight if text else self.video_weight
        return masked_softmax(mlp(tokens).squeeze(-1), mask)

    def forward(
        self, words: Tensor, word_mask: Tensor, tokens: Tensor, token_mask: Tensor, zero_padding: bool = False
    ) -> Tensor:
        return weighted_token_interaction(
            l2norm(words),
            word_mask,
            self.weights(words, word_mask, text=True),
            l2norm(tokens),
            token_mask,
            self.weights(tokens, token_mask, text=False),
            zero_padding=zero_padding,
        )


class FrameWord(Head):
    """Every word against every (temporally contextualised) frame."""

    needs_words = True

    def __init__(self, cfg: FrameWordConfig, dim: int) -> None:
        super().__init__()
        self.interaction = TokenInteraction(dim)

    def forward(self, text: TextFeatures, video: VideoFeatures) -> Tensor:
        return self.interaction(text.words, text.word_mask, video.frames, video.frame_mask)


class PatchWord(Head):
    """Every word against the kept patch tokens of every frame (``VideoFeatures.patches``); frame
    embeddings only pick the patches, so the temporal module plays no part here."""

    needs_frames = False
    needs_words = True
    needs_patches = True

    def __init__(self, cfg: PatchWordConfig, dim: int) -> None:
        super().__init__()
        self.interaction = TokenInteraction(dim)

    def forward(self, text: TextFeatures, video: VideoFeatures) -> Tensor:
        patches = video.patches
        count, frames, kept, dim = patches.shape
        tokens = patches.reshape(count, frames * kept, dim)
        mask = video.frame_mask.repeat_interleave(kept, dim=1)  # patches of padded frames are padding
        return self.interaction(text.words, text.word_mask, tokens, mask)
