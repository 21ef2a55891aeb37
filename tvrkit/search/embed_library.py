"""Embed a library's compressed clips once: the model's video features and global vector per
clip, into a feature store (:mod:`tvrkit.retrieval.store`), through the loaders' own machinery.

Frames are read, sampled, cropped and batched exactly as evaluation reads a split in the
``raw`` format (:class:`~tvrkit.data.clips.ClipDataset` over a frame reader, the
loaders' ``Collate``, normalised on the model's device by :class:`~tvrkit.data.device.DeviceBatches`)
and embedded by the engine's own :func:`~tvrkit.retrieval.embed.embed_video_batches` (as eval embeds),
so a clip embedded here gets the features evaluation would give it. The reader maps ids
to the index's own clips only. Frame times come from the same pure sampler.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tvrkit.retrieval.embed import embed_video_batches
from tvrkit.retrieval.store import FeatureStore, StoreWriter
from tvrkit.shards.formats.base import FrameReader, Pick

log = logging.getLogger(__name__)
SAMPLING = "uniform"  # an index embeds each clip once: deterministic frames, as eval's default


class ClipReader(FrameReader):
    """Frames of the index's clips (``video_id`` -> compressed mp4), decoded like the raw format."""

    def __init__(self, clips: Mapping[str, str | os.PathLike[str]]) -> None:
        super().__init__(".", "library")
        self.clips = {vid: Path(p) for vid, p in clips.items()}

    def video_ids(self) -> list[str]:
        return list(self.clips)

    def _open(self) -> None:
        """Nothing to open: each read opens its file."""

    def _read(self, video_id: str, pick: Pick) -> tuple[list[int], Any]:
        import torch

        from tvrkit.media.decode import read_sampled
        from tvrkit.shards.formats.base import VideoInfo

        indices, frames = read_sampled(self.clips[video_id], lambda n, fps: pick(VideoInfo(n, fps)))
        return indices, torch.from_numpy(frames).permute(0, 3, 1, 2)


def frame_times(num_frames: int, fps: float, data_cfg: Any) -> list[float]:
    """Seconds of the frames the index embeds for a clip of ``num_frames`` at ``fps``."""
    from tvrkit.data.frame_indices import sample_frames

    picked = sample_frames(num_frames, fps, data_cfg.max_frames, data_cfg.frame_rate, SAMPLING,
                           data_cfg.slice_framepos)
    return [round(i / fps, 4) for i in picked]


def embed_clips(model: Any, clips: Mapping[str, str | os.PathLike[str]], data_cfg: Any, out: Path, *,
                device: Any, batch_size: int, workers: int, dtype: str = "float32",
                progress: bool = True) -> tuple[FeatureStore, list[str]]:
    """Encode ``clips`` into a new store at ``out``; returns it and the ids that could not be read."""
    import torch
    from tqdm import tqdm

    from tvrkit.data.clips import ClipDataset, Collate, FramePolicy, Item
    from tvrkit.data.device import DeviceBatches

    image_size = data_cfg.image_size or model.image_size
    policy = FramePolicy(data_cfg.max_frames, data_cfg.frame_rate, SAMPLING, data_cfg.slice_framepos, image_size)
    dataset = ClipDataset(ClipReader(clips), [Item(v) for v in clips], policy, data_cfg.seed, 0, None, "skip",
                          substitute=False)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=workers,
                                         collate_fn=Collate(policy.max_frames, image_size))
    writer = StoreWriter(out, dtype)
    model.eval()
    with torch.inference_mode(), tqdm(total=len(clips), unit="video", desc="embed",
                                      disable=None if progress else True) as bar:  # None: a terminal only
        embed_video_batches(model, DeviceBatches(loader, device), writer, bar.update)
    store = writer.close()
    present = set(store.ids)
    return store, [v for v in clips if v not in present]


def embed_query(model: Any, texts: Sequence[str], max_words: int, device: Any) -> Any:
    """:class:`~tvrkit.models.features.TextFeatures` of ``texts`` (tokenized as eval tokenizes captions)."""
    import torch

    from tvrkit.data.tokenize import tokenize

    with torch.inference_mode():
        return model.encode_text(tokenize(list(texts), max_words).to(device))
