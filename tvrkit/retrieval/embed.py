"""Encode every text and every video of a split once, cache the features on disk, reuse them.

Under torchrun each rank encodes its own block of videos (the loader gives every video to
exactly one rank) and of texts, writing a part store; rank 0 merges the parts in the
split's order, dropping duplicate ids, so the result is the same for any number of ranks.
The cache is keyed by the checkpoint's sha256, the split, and everything else that changes
a feature (frame sampling, token length, image size, model config, storage dtype, the
split's captions, the tvrkit version), so a changed input never reuses stale features. Videos that could not
be read are not dropped silently: they are listed in ``Embedded.missing_video_ids``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from tvrkit import __version__, dist
from tvrkit.config import to_dict
from tvrkit.errors import DataError
from tvrkit.retrieval.store import FeatureStore, StoreWriter, merge_stores

log = logging.getLogger(__name__)

GLOBAL = "global"  # store field holding model.global_embeddings of each row
TEXTS, VIDEOS = "texts", "videos"


@dataclasses.dataclass(frozen=True)
class Embedded:
    """A split's cached features: texts in split order (all of them, also those whose video is
    missing), the videos that could be encoded in split order, and the ones that could not."""

    texts: FeatureStore
    videos: FeatureStore | None  # None when only the texts were asked for (a querybank)
    caption_ids: list[str]
    caption_video_ids: list[str]
    captions: list[str]
    split_video_ids: list[str]
    missing_video_ids: list[str]
    seconds: float
    cached: bool

    @property
    def video_ids(self) -> list[str]:
        return self.videos.ids if self.videos is not None else []

    def global_texts(self) -> Any:
        """float32 tensor [N_texts, D] of unit vectors (the coarse level)."""
        return self.texts.rows(slice(None), [GLOBAL])[GLOBAL]

    def global_videos(self) -> Any:
        assert self.videos is not None, "texts-only embedding"
        return self.videos.rows(slice(None), [GLOBAL])[GLOBAL]

    def text_features(self, index: Any) -> Any:
        """:class:`TextFeatures` of the text rows ``index``."""
        from tvrkit.models.features import TextFeatures

        names = [n for n in self.texts.field_names if n != GLOBAL]
        return TextFeatures.from_state(self.texts.rows(index, names))

    def video_features(self, index: Any) -> Any:
        """:class:`VideoFeatures` of the video rows ``index``."""
        from tvrkit.models.features import VideoFeatures

        assert self.videos is not None, "texts-only embedding"
        names = [n for n in self.videos.field_names if n != GLOBAL]
        return VideoFeatures.from_state(self.videos.rows(index, names))


def cache_key(checkpoint_sha: str, split: str, settings: dict[str, Any]) -> str:
    """Directory name of a cache entry: checkpoint hash, split, and a hash of the settings."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()
    safe_split = "".join(c if c.isalnum() or c in "-_." else "_" for c in split)
    return f"{checkpoint_sha[:16]}-{safe_split}-{digest[:12]}"


def feature_settings(data_cfg: Any, model_cfg: Any, image_size: int, dtype: str,
                     caption_ids: Sequence[str], captions: Sequence[str], video_ids: Sequence[str]) -> dict[str, Any]:
    """Everything besides the weights that changes a cached feature."""
    content = hashlib.sha256()
    for part in (caption_ids, captions, video_ids):
        content.update("\x1f".join(part).encode("utf-8") + b"\x1e")
    keep = ("format", "max_frames", "frame_rate", "eval_sampling", "slice_framepos", "max_words", "seed")
    return {"data": {k: getattr(data_cfg, k) for k in keep}, "image_size": image_size, "dtype": dtype,
            "model": to_dict(model_cfg), "split_content": content.hexdigest(), "tvrkit": __version__}


def _encode_videos(model: Any, data_cfg: Any, split: str, image_size: int, device: Any, out: Path,
                   dtype: str) -> FeatureStore:
    from tvrkit.data.device import DeviceBatches
    from tvrkit.data.loader import build_video_loader

    writer = StoreWriter(out, dtype)
    embed_video_batches(model, DeviceBatches(build_video_loader(data_cfg, split, image_size, device), device),
                        writer)
    return writer.close()


def embed_video_batches(model: Any, batches: Iterable[dict[str, Any]], writer: StoreWriter,
                        progress: Callable[[int], Any] | None = None) -> None:
    """Append each video of ``batches`` (normalised, on the model's device) to ``writer``: its
    features and its global embedding (field ``GLOBAL``). The one path from loader batches to
    stored features, shared by evaluation and ``tvrkit index``; ``progress(n)`` after each batch."""
    for batch in batches:
        if progress is not None:
            progress(len(batch["video_ids"]))
        if not batch["video_ids"]:
            continue  # the whole batch was unreadable
        feats = model.encode_video(batch["frames"], batch["frame_mask"])
        writer.append(list(batch["video_ids"]), {**feats.state(), GLOBAL: model.global_embeddings(feats)})


def _encode_texts(model: Any, tokens: Any, ids: Sequence[str], batch_size: int, device: Any, out: Path,
                  dtype: str) -> FeatureStore:
    writer = StoreWriter(out, dtype)
    for start in range(0, len(ids), batch_size):
        feats = model.encode_text(tokens[start:start + batch_size].to(device))
        writer.append(list(ids[start:start + batch_size]), {**feats.state(), GLOBAL: model.global_embeddings(feats)})
    return writer.close()


def embed_split(
    model: Any,
    data_cfg: Any,
    split: str,
    *,
    checkpoint_sha: str,
    cache_dir: str | os.PathLike[str],
    image_size: int,
    device: Any,
    dtype: str = "float32",
    use_cache: bool = True,
    texts_only: bool = False,
) -> Embedded:
    """Features of ``split`` (collective under torchrun: every rank must call it).

    ``cache_dir/<key>/`` holds the merged texts and videos stores; a complete entry is
    reused unless ``use_cache`` is false. ``texts_only`` encodes the captions alone (a
    querybank for post-processing needs no videos).
    """
    import torch

    from tvrkit.catalog import read_catalog
    from tvrkit.data.batch_samplers import eval_block
    from tvrkit.data.loader import split_texts

    started = time.perf_counter()
    texts = split_texts(data_cfg, split)
    split_videos = read_catalog(data_cfg.root).split_video_ids(split)
    settings = feature_settings(data_cfg, model.cfg, image_size, dtype, texts.caption_ids, texts.captions,
                                split_videos)
    parts = (TEXTS,) if texts_only else (TEXTS, VIDEOS)
    settings["parts"] = list(parts)
    entry = Path(cache_dir) / cache_key(checkpoint_sha, split, settings)
    cached = use_cache and all(FeatureStore.is_complete(entry / name) for name in parts)
    if not cached:
        partial = entry.with_name(entry.name + ".partial")
        rank, world = dist.get_rank(), dist.get_world_size()
        mine = partial / f"rank{rank}"
        block = eval_block(len(texts.caption_ids), rank, world)
        was_training = model.training
        model.eval()
        with torch.inference_mode():
            if not texts_only:
                _encode_videos(model, data_cfg, split, image_size, device, mine / VIDEOS, dtype)
            _encode_texts(model, texts.tokens[block.start:block.stop], texts.caption_ids[block.start:block.stop],
                          data_cfg.eval_batch_size, device, mine / TEXTS, dtype)
        model.train(was_training)
        dist.barrier()
        if dist.is_main():
            _merge(partial, world, entry, parts, texts.caption_ids, split_videos, settings)
        dist.barrier()
    videos = None if texts_only else FeatureStore(entry / VIDEOS)
    present = set(videos.ids) if videos is not None else set(split_videos)
    missing = [v for v in split_videos if v not in present]
    if videos is not None and not len(videos):
        raise DataError(f"split {split!r}: none of its {len(split_videos)} videos could be read")
    result = Embedded(FeatureStore(entry / TEXTS), videos, list(texts.caption_ids), list(texts.video_ids),
                      list(texts.captions), list(split_videos), missing, time.perf_counter() - started, cached)
    log.info("embedded split %s: %d texts, %d videos (%d missing)%s in %.1f s", split, len(result.texts),
             len(result.video_ids), len(missing), " from cache" if cached else "", result.seconds)
    return result


def _merge(partial: Path, world: int, entry: Path, names: Sequence[str], caption_ids: Sequence[str],
           split_videos: Sequence[str], settings: dict[str, Any]) -> None:
    """Rank 0: merge the ranks' parts in split order into ``partial``, then rename it to ``entry``."""
    parts = {name: [FeatureStore(partial / f"rank{r}" / name) for r in range(world)] for name in names}
    present = {vid for part in parts.get(VIDEOS, []) for vid in part.ids}
    order = {TEXTS: list(caption_ids), VIDEOS: [v for v in split_videos if v in present]}
    for name in names:
        merge_stores(parts[name], partial / name, order[name], extra={"settings": settings})
    for r in range(world):
        shutil.rmtree(partial / f"rank{r}")
    if entry.exists():
        shutil.rmtree(entry)
    os.replace(partial, entry)

