"""The interface every similarity head shares: (text features, video features) -> ``[Nt, Nv]``.

Scores are similarities before any temperature (cosine-like, in [-1, 1] for the built-in heads);
the model applies each level's learnable logit scale in the loss and weights levels in the total.
"""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn

from tvrkit.models.features import TextFeatures, VideoFeatures


class Head(nn.Module):
    """Scores every text against every video of two feature batches."""

    # Which feature fields the head reads, so encoders compute (and caches keep) only those.
    needs_frames: ClassVar[bool] = True
    needs_words: ClassVar[bool] = False
    needs_patches: ClassVar[bool] = False

    def forward(self, text: TextFeatures, video: VideoFeatures) -> Tensor:
        raise NotImplementedError
