"""``DataConfig``: what the loaders read and how they sample it (``schemas/data.schema.json`` is
generated from it, embedded in the train config as ``{"$ref": "urn:tvrkit:data"}``)."""

from __future__ import annotations

import dataclasses

from tvrkit.config import option


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Training-time augmentation of a video's uint8 frames (one draw per video, all frames alike)."""

    crop_scale: tuple[float, ...] | None = option(None, "Random resized crop (torchvision's RandomResizedCrop rule: "
                                                  "area fraction in this range, log-uniform aspect ratio in "
                                                  "crop_ratio, 10 tries then a center crop), resized bilinearly to "
                                                  "image_size without antialiasing, as torchvision resized tensors "
                                                  "for X-Pool; null = CLIP's resize + center crop.", maximum=1,
                                                  exclusive_minimum=0, min_items=2, max_items=2)
    crop_ratio: tuple[float, ...] = option((3 / 4, 4 / 3), "Aspect-ratio range (width / height) of the random "
                                           "resized crop.", exclusive_minimum=0, min_items=2, max_items=2)
    flip: float = option(0.0, "Probability of flipping a training video horizontally.", minimum=0, maximum=1)

    @property
    def active(self) -> bool:
        return self.crop_scale is not None or self.flip > 0


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Loader settings; the defaults are the CLIP4Clip MSR-VTT recipe (each description says why)."""

    root: str = option("data/synthetic", "Dataset root (catalog/, compressed/, shards/).", min_length=1)
    format: str = option("wds", "Where frames come from: wds or lmdb shards (run `tvrkit shard` first), or raw = "
                         "decode ROOT/compressed/*.mp4 on the fly (PyAV, else decord; "
                         "TVRKIT_RAW_DECODERS=torchcodec,pyav opts in to torchcodec; slow).",
                         choices=("wds", "lmdb", "raw"))
    train_split: str = option("train", "Catalog split to train on, e.g. train-9k.", min_length=1)
    val_split: str | None = option(None, "Split evaluated during training; null = none.")
    val_from_train: int | None = option(None, "Hold N videos of train_split out of training (chosen by data.seed, "
                                        "the same every run) and validate on them as the split named val_from_train "
                                        "(for protocols without a validation split, e.g. MSR-VTT 1k-A; the papers "
                                        "picked their best epoch on the test split). Excludes data.val_split; the "
                                        "held-out ids are listed in the run's summary.", minimum=1)
    test_split: str = option("test", "Split of the final evaluation, e.g. test-1ka.", min_length=1)
    max_frames: int = option(12, "Frames per video (T); shorter videos are padded and masked, never filled with "
                             "copies.", minimum=1)
    frame_rate: float = option(1.0, "Frames per second considered for sampling (1 fps from the stored 3 fps, as "
                               "CLIP4Clip's feature_framerate); >= the stored rate = every frame.",
                               exclusive_minimum=0)
    train_sampling: str = option("random", "random: one random frame in each of T equal segments (augmentation); "
                                 "uniform: the frame_rate candidates, cut by slice_framepos; clip4clip: CLIP4Clip's "
                                 "dataloader exactly (OpenCV's whole-number fps grid at frame_rate, then "
                                 "slice_framepos; its recipes use it in training and testing, with slice_framepos "
                                 "uniform); xpool: X-Pool's uniform sampling (the middle frame of each of T equal "
                                 "segments of all stored frames; frame_rate unused); hmmc: HMMC's 30 frames evenly "
                                 "over the whole clip (its frame2lmdb.py), of which training draws T at random and "
                                 "sorts them and evaluation takes T evenly spaced (linspace(0, 30, T, "
                                 "endpoint=False)): always T frames, never masked, T <= 30, frame_rate unused; "
                                 "eercf: EERCF's frame folders, every stored frame a candidate (128 evenly spaced "
                                 "above 256), then slice_framepos: frame_rate unused, so clips of at least T stored "
                                 "frames always fill T.",
                                 choices=("random", "uniform", "clip4clip", "xpool", "hmmc", "eercf"))
    eval_sampling: str = option("uniform", "Sampling for evaluation (same modes as train_sampling); uniform, "
                                "clip4clip and xpool are deterministic.",
                                choices=("uniform", "random", "clip4clip", "xpool", "hmmc", "eercf"))
    slice_framepos: str = option("uniform", "CLIP4Clip slice_framepos for uniform sampling when a video has more "
                                 "than max_frames candidates: first T, last T, or T evenly spaced.",
                                 choices=("head", "tail", "uniform"))
    max_words: int = option(32, "Token context length (open_clip tokenizer); longer captions are cut, keeping the "
                            "end token.", minimum=3)
    batch_size: int = option(32, "GLOBAL training batch (as CLIP4Clip's --batch_size): each optimizer step averages "
                             "batch_size samples; each rank loads batch_size / (ranks x train.grad_accum) per "
                             "micro-batch, and a batch_size that this does not divide is an error. Contrastive "
                             "negatives are those of one micro-batch gathered over the ranks.", minimum=1)
    eval_batch_size: int = option(64, "Videos per batch per rank when embedding a split.", minimum=1)
    workers: int = option(2, "DataLoader worker processes per rank (0 = load in the main process).", minimum=0)
    caption_mode: str = option("expand", "expand: every caption is its own training pair (MSR-VTT 9k: 180k pairs); "
                               "random: one random caption per video per epoch.", choices=("expand", "random"))
    image_size: int | None = option(None, "Frame side after resize and center crop; null = the model's input size "
                                    "(the trainer passes it).", minimum=1)
    augment: AugmentConfig = option(description="Training augmentation on the uint8 frames, before normalisation; "
                                    "one draw per sample, applied to all its frames alike (X-Pool: crop_scale [0.5, "
                                    "1.0], flip 0.5). Evaluation always resizes and center-crops.",
                                    factory=AugmentConfig)
    on_corrupt: str = option("skip", "A sample whose frames cannot be read: skip it with a warning (counted), or "
                             "stop with an error.", choices=("skip", "raise"))
    verify_frames: bool = option(False, "Decode stored JPEG frames strictly: a frame the decoder reports as corrupt "
                                 "(a flipped byte still decodes, to damaged pixels) makes its sample unreadable, "
                                 "handled as data.on_corrupt says (training records it and draws another). Costs "
                                 "nothing measurable: the same libjpeg-turbo decode.")
    seed: int = option(0, "Shuffling, caption choice and random frame sampling derive from (seed, epoch, sample), so "
                       "runs and resumes repeat exactly.")
    shuffle_buffer: int = option(1000, "URL roots: each loader worker streams its shards through a seeded shuffle "
                                 "buffer of this many samples (1 = shard order); the memory it holds is at most this "
                                 "many videos' JPEG frames.", minimum=1)
    retry_seconds: float = option(60.0, "URL roots: a failed read is retried with doubling waits (0.5 s up to 8 s) "
                                  "summing to at most this many seconds; then the run saves a checkpoint and exits 1 "
                                  "naming the URL.", minimum=0)
