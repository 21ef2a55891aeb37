"""Configs of ``tvrkit shard`` (schema ``schemas/shard.schema.json``), ``tvrkit verify`` and ``tvrkit upload``."""

from __future__ import annotations

import dataclasses

from tvrkit.config import option


@dataclasses.dataclass(frozen=True)
class ShardConfig:
    """What to shard and how: each option's default, description and allowed values
    (``schemas/shard.schema.json`` is generated from them)."""

    root: str = option("data/synthetic", "Dataset root holding catalog/ and compressed/.", min_length=1)
    format: str = option("wds", "wds: tar shards of whole videos (WebDataset); lmdb: one LMDB environment per split.",
                         choices=("wds", "lmdb"))
    splits: tuple[str, ...] = option((), "Catalog splits to shard; empty = every split.", min_length=1,
                                     unique_items=True)
    jpeg_quality: int = option(90, "JPEG quality of the stored frames (90 keeps decoding error well below what "
                               "training notices).", minimum=1, maximum=100)
    crop: str = option("none", "none: store the frames as compressed (short side 224), so training can still "
                       "random-crop them; center: store only the central crop_size square (what CLIP's preprocessing "
                       "keeps): less to decode and store per frame for wide video, but loaders then refuse other "
                       "image sizes and random crops (the manifest records it).", choices=("none", "center"))
    crop_size: int = option(224, "Side of the stored square with crop center (the model's input size, "
                            "data.image_size); frames are resized to it by their short side first if needed.",
                            minimum=1)
    shard_size: str | int = option("512MB", "Upper bound of one wds shard (e.g. 512MB, 1GiB, or bytes); a single "
                                   "larger video gets its own shard. Ignored by lmdb.",
                                   pattern=r"^\s*\d+(\.\d+)?\s*([kKmMgGtT]i?[bB]|[bB])?\s*$")
    shard_multiple: int = option(8, "Make the wds shard count a multiple of this (ranks x loader workers) when there "
                                 "are enough videos.", minimum=1)
    workers: int = option(2, "Processes decoding and JPEG-encoding videos in parallel; the output does not depend on "
                          "it.", minimum=1)
    decoders: tuple[str, ...] = option(("decord", "ffmpeg"), "Decoders tried in order for each video; the one used "
                                       "is recorded in the manifest.", choices=("decord", "ffmpeg"), min_items=1,
                                       unique_items=True)
    keep_staging: bool = option(False, "Keep ROOT/shards/.staging (per-video JPEG fragments) after success, e.g. to "
                                "shard the other format without re-encoding.")
    part: str = option("1/1", "I/N: only encode the I-th of N deterministic shares of the videos into "
                       "ROOT/shards/.staging and record them under ROOT/shards/.parts/{format}/ (no shards yet); "
                       "auto: this Slurm array task's share. Then run once with merge.",
                       pattern="^([0-9]+/[0-9]+|auto)$")
    merge: bool = option(False, "Pack the finished parts' fragments into the shards and manifests one machine would "
                         "write (byte-identical).")


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
