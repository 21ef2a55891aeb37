"""The loaders the trainer and evaluator use: ``build_train_loader``, ``build_video_loader``
and ``split_texts``, for ``DataConfig.format`` in {lmdb, wds, raw}.

Batches are dicts: ``frames`` uint8 [B, T, 3, S, S] (cropped, zero-padded past a short
video's end; iterate ``tvrkit.data.device.DeviceBatches(loader, device)`` to get them
CLIP-normalised on the model's device), ``frame_mask`` bool [B, T], ``video_ids``; training
batches add ``tokens`` long [B, L] and ``caption_ids``. Videos that are not in the shards
(failed or missing) are left out with a warning, never replaced. ``device`` is where the
model runs: batches are pinned for the copy when it is a CUDA device.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from tvrkit.data.batch_samplers import TrainBatchSampler, eval_block, rank_batch_size
from tvrkit.data.clips import ClipDataset, Collate, FramePolicy, Item
from tvrkit.data.config import AugmentConfig, DataConfig
from tvrkit.data.frame_indices import eval_mode
from tvrkit.data.holdout import heldout_video_ids, split_source
from tvrkit.data.readers import open_reader
from tvrkit.errors import DataError
from tvrkit.shards.formats.base import FrameReader
from tvrkit.shards.remote import source_url

log = logging.getLogger(__name__)


def rank_and_world() -> tuple[int, int]:
    """This process's rank and the world size (0, 1 outside distributed runs)."""
    from tvrkit import dist

    return dist.get_rank(), dist.get_world_size()


def _policy(cfg: DataConfig, sampling: str, image_size: int, augment: AugmentConfig | None = None) -> FramePolicy:
    return FramePolicy(cfg.max_frames, cfg.frame_rate, sampling, cfg.slice_framepos, cfg.image_size or image_size,
                       augment)


def _keeps(keep: frozenset[str] | None, video_id: str) -> bool:
    return keep is None or video_id in keep


def _data_loader(dataset: ClipDataset, workers: int, device: Any, **kwargs: Any) -> Any:
    import torch

    return torch.utils.data.DataLoader(
        dataset,
        num_workers=workers,
        collate_fn=Collate(dataset.policy.max_frames, dataset.policy.image_size),
        pin_memory=device is not None and torch.device(device).type == "cuda",
        **kwargs,
    )


def _warn_missing(split: str, wanted: list[str], present: set[str]) -> None:
    missing = [v for v in dict.fromkeys(wanted) if v not in present]
    if missing:
        log.warning("split %s: %d video(s) are not readable (failed or not sharded) and are left out, e.g. %s",
                    split, len(missing), ", ".join(missing[:5]))


def train_items(cfg: DataConfig, present: set[str]) -> list[Item]:
    """Training entries: one per caption (``expand``) or one per video with all its captions (``random``)."""
    from tvrkit.catalog import read_catalog

    held = set(heldout_video_ids(cfg))  # data.val_from_train: validation's, never trained on
    pairs = [p for p in read_catalog(cfg.root).split_captions(cfg.train_split) if p[1] not in held]
    _warn_missing(cfg.train_split, [vid for _, vid, _ in pairs], present)
    pairs = [p for p in pairs if p[1] in present]
    if cfg.caption_mode == "expand":
        return [Item(vid, ((cid, text),)) for cid, vid, text in pairs]
    grouped: dict[str, list[tuple[str, str]]] = {}
    for cid, vid, text in pairs:
        grouped.setdefault(vid, []).append((cid, text))
    return [Item(vid, tuple(caps)) for vid, caps in grouped.items()]


def build_train_loader(cfg: DataConfig, image_size: int, epoch: int, start_batch: int = 0,
                       device: Any = None, grad_accum: int = 1) -> Any:
    """DataLoader of this rank's training micro-batches for ``epoch``, from batch ``start_batch`` on.

    Shuffling, caption choice and frame choice depend only on (seed, epoch), so resuming at
    ``start_batch`` gives exactly the batches an uninterrupted run would have seen, and
    skipped batches are never loaded. ``cfg.batch_size`` is the global batch of one optimizer
    step: every rank gets ``len(loader)`` full micro-batches of ``batch_size / (ranks x
    grad_accum)`` (:func:`rank_batch_size`); a rank's share is padded by repeating its own
    samples (see samplers).
    The mirror of a URL root (:func:`tvrkit.data.streaming.resolve_root`) streams its shards
    instead (:mod:`tvrkit.data.streaming`), with the same samples and batch sizes.
    :func:`epoch_batches` is the epoch's length from batch 0.
    """
    streamed = source_url(cfg.root) is not None
    if streamed:
        from tvrkit.data.streaming import StreamSource

        reader: FrameReader = StreamSource(cfg.root, cfg.train_split)
    else:
        reader = open_reader(cfg.format, cfg.root, cfg.train_split)
    reader.verify_frames = cfg.verify_frames
    items = train_items(cfg, set(reader.video_ids()))
    if not items:
        raise DataError(f"split {cfg.train_split!r} has no readable training samples under {cfg.root}")
    rank, world = rank_and_world()
    dataset = ClipDataset(reader, items, _policy(cfg, cfg.train_sampling, image_size, cfg.augment), cfg.seed, epoch,
                          cfg.max_words, cfg.on_corrupt, substitute=True)
    per_rank = rank_batch_size(cfg.batch_size, world, grad_accum)
    if streamed:
        from tvrkit.data.streaming import StreamDataset, plan_epoch
        from tvrkit.shards.remote import Retry

        plan = plan_epoch(cfg, reader, items, epoch, rank, world, per_rank)
        stream = StreamDataset(plan, dataset, rank, epoch, start_batch, cfg.shuffle_buffer,
                               Retry(give_up_after=cfg.retry_seconds))
        return _data_loader(stream, cfg.workers and stream.workers, device, batch_size=per_rank)
    sampler = TrainBatchSampler(len(items), per_rank, rank, world, cfg.seed, epoch, start_batch)
    return _data_loader(dataset, cfg.workers, device, batch_sampler=sampler)


def build_video_loader(cfg: DataConfig, split: str, image_size: int, device: Any = None) -> Any:
    """DataLoader of this rank's contiguous block of ``split``'s videos (uniform sampling unless
    ``eval_sampling`` says otherwise): across ranks and workers every video comes exactly once."""
    from tvrkit.catalog import read_catalog

    stored, keep = split_source(cfg, split)
    reader = open_reader(cfg.format, cfg.root, stored)
    reader.verify_frames = cfg.verify_frames
    ids = [v for v in reader.video_ids() if _keeps(keep, v)]
    _warn_missing(split, [v for v in read_catalog(cfg.root).split_video_ids(stored) if _keeps(keep, v)], set(ids))
    rank, world = rank_and_world()
    policy = _policy(cfg, eval_mode(cfg.eval_sampling), image_size)
    dataset = ClipDataset(reader, [Item(v) for v in ids], policy, cfg.seed, 0, None, cfg.on_corrupt, substitute=False)
    # a range is a valid sampler: DataLoader workers split its batches, each index loads once
    return _data_loader(dataset, cfg.workers, device, batch_size=cfg.eval_batch_size,
                        sampler=eval_block(len(ids), rank, world))


def epoch_batches(loader: Any) -> int:
    """Micro-batches in an epoch of a loader from :func:`build_train_loader`, from batch 0."""
    from tvrkit.data.streaming import StreamDataset

    if isinstance(loader.dataset, StreamDataset):
        return loader.dataset.total_batches
    return loader.batch_sampler.total_batches


@dataclasses.dataclass(frozen=True)
class TextSet:
    """Every caption a split evaluates, in split order, with its video and tokens.

    Multi-caption protocols (MSVD, MSR-VTT full) have several captions per video:
    ``video_ids[i]`` is the video caption ``i`` describes. Captions of videos that could not
    be sharded stay in, so metrics can count them as misses instead of silently dropping them.
    """

    caption_ids: list[str]
    video_ids: list[str]
    captions: list[str]
    tokens: Any  # LongTensor [N, max_words]

    def video_index(self, gallery_ids: list[str]) -> Any:
        """LongTensor [N]: position of each caption's video in ``gallery_ids`` (-1 when absent)."""
        import torch

        where = {v: i for i, v in enumerate(gallery_ids)}
        return torch.tensor([where.get(v, -1) for v in self.video_ids], dtype=torch.long)


def split_texts(cfg: DataConfig, split: str) -> TextSet:
    """The captions ``split`` evaluates, tokenized with ``cfg.max_words``."""
    from tvrkit.catalog import read_catalog
    from tvrkit.data.tokenize import tokenize

    stored, keep = split_source(cfg, split)
    rows = [row for row in read_catalog(cfg.root).split_captions(stored) if _keeps(keep, row[1])]
    captions = [text for _, _, text in rows]
    return TextSet([c for c, _, _ in rows], [v for _, v, _ in rows], captions, tokenize(captions, cfg.max_words))
