"""Configs of ``tvrkit shard`` (schema ``schemas/shard.schema.json``), ``tvrkit verify`` and ``tvrkit upload``."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class ShardConfig:
    """What to shard and how; the defaults live here (the schema documents and constrains each key)."""

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


@dataclasses.dataclass(frozen=True)
class UploadConfig:
    """Where a finished root's WebDataset shards and catalog go (every split when none named)."""

    root: str
    url: str
    splits: tuple[str, ...] = ()
    retry_seconds: float = 60.0  # how long each transfer retries before the upload stops
