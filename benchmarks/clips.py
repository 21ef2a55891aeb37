"""A benchmark dataset of real footage: ``copies`` copies of one compressed clip (e.g. the
MSR-VTT clip in ``../shared/fixtures/videos/``, already 3 fps, short side 224, as `tvrkit
prepare` writes them), catalogued as one split and sharded in both formats.

Synthetic clips are flat shapes that decode fast; the loader and decoder benchmarks also run
on this so their ratios hold for real video. Built once and reused (the shard stage resumes).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

SPLIT = "bench"


def real_clip_root(root: str | os.PathLike[str], source: str | os.PathLike[str], copies: int = 40) -> Path:
    """``root`` holding ``copies`` of ``source`` as ``compressed/clip{i:03d}.mp4``, split ``bench``,
    sharded as wds and lmdb; returns ``root``."""
    from tvrkit.catalog import Catalog, write_catalog
    from tvrkit.media.ffmpeg import ffmpeg_exe
    from tvrkit.media.probe import probe
    from tvrkit.shards.config import ShardConfig
    from tvrkit.shards.stage import run_shard

    root = Path(root)
    info = probe(source, ffmpeg_exe())
    videos, captions, splits = [], [], []
    for i in range(copies):
        vid = f"clip{i:03d}"
        target = root / "compressed" / f"{vid}.mp4"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        videos.append({"video_id": vid, "source": str(source), "duration": info.duration, "fps": info.fps,
                       "width": info.width, "height": info.height, "frames": info.frames, "status": "ok"})
        captions.append({"caption_id": f"{vid}#0", "video_id": vid, "caption": f"copy {i} of {Path(source).name}"})
        splits.append({"split": SPLIT, "video_id": vid, "caption_id": f"{vid}#0"})
    write_catalog(root, Catalog.from_records(videos=videos, captions=captions, splits=splits))
    for fmt in ("wds", "lmdb"):
        run_shard(ShardConfig(root=str(root), format=fmt, keep_staging=True))
    return root
