"""Configs of ``tvrkit shard`` (schema ``schemas/shard.schema.json``) and ``tvrkit verify``."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class ShardConfig:
    """What to shard and how; defaults mirror the schema (which documents each key)."""

    root: str = "data/synthetic"
    format: str = "wds"
    splits: tuple[str, ...] = ()
    jpeg_quality: int = 90
    crop: str = "none"  # none: full short-side frames; center: the central crop_size square only
    crop_size: int = 224
    shard_size: str = "512MB"
    shard_multiple: int = 8
    workers: int = 2
    decoders: tuple[str, ...] = ("decord", "ffmpeg")
    keep_staging: bool = False
    part: str = "1/1"
    merge: bool = False


@dataclasses.dataclass(frozen=True)
class VerifyConfig:
    """Which shards to check: every format and split found when left empty."""

    root: str
    formats: tuple[str, ...] = ()
    splits: tuple[str, ...] = ()
    quick: bool = False  # hashes and counts only, no JPEG decoding
