"""Similarity heads, one per level, chosen by level name from :data:`HEADS`.

Each builder takes the level's config and the embedding width and returns a :class:`Head`:
``head(text_features, video_features) -> [Nt, Nv]`` similarities.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tvrkit.models.heads.base import Head
from tvrkit.models.heads.frame_sentence import FrameSentence
from tvrkit.models.heads.tokens import FrameWord, PatchWord, TokenInteraction
from tvrkit.models.heads.video_sentence import build_video_sentence

HEADS: dict[str, Callable[[Any, int], Head]] = {
    "video_sentence": build_video_sentence,
    "frame_sentence": FrameSentence,
    "frame_word": FrameWord,
    "patch_word": PatchWord,
}

__all__ = ["HEADS", "Head", "TokenInteraction"]
