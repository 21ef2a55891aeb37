"""``DataConfig``: what the loaders read and how they sample it (schema ``schemas/data.schema.json``,
embedded in the train config as ``{"$ref": "urn:tvrkit:data"}``)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Training-time augmentation of a video's uint8 frames (one draw per video, all frames alike)."""

    crop_scale: tuple[float, ...] | None = None  # RandomResizedCrop area range, e.g. X-Pool's (0.5, 1.0)
    crop_ratio: tuple[float, ...] = (3 / 4, 4 / 3)
    flip: float = 0.0  # probability of a horizontal flip (X-Pool: 0.5)

    @property
    def active(self) -> bool:
        return self.crop_scale is not None or self.flip > 0


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Loader settings; the defaults are the CLIP4Clip MSR-VTT recipe (the schema says why)."""

    root: str = "data/synthetic"
    format: str = "wds"
    train_split: str = "train"
    val_split: str | None = None
    val_from_train: int | None = None
    test_split: str = "test"
    max_frames: int = 12
    frame_rate: float = 1.0
    train_sampling: str = "random"
    eval_sampling: str = "uniform"
    slice_framepos: str = "uniform"
    max_words: int = 32
    batch_size: int = 32
    eval_batch_size: int = 64
    workers: int = 2
    caption_mode: str = "expand"
    image_size: int | None = None
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig)
    on_corrupt: str = "skip"
    verify_frames: bool = False  # strict JPEG decoding: frames reported corrupt are unreadable samples
    seed: int = 0
    shuffle_buffer: int = 1000  # a URL root's training samples pass a seeded buffer of this many
    retry_seconds: float = 60.0  # how long a URL root's reads retry before the run stops
