"""Generated inputs for the shard and data tests: tiny real H.264 videos (ffmpeg's testsrc2,
a different hue and length per video, 3 fps) under ``ROOT/compressed/`` and a catalog."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tvrkit.catalog import Catalog, write_catalog
from tvrkit.media.ffmpeg import ffmpeg_exe
from tvrkit.shards.frames import decode_frames, decode_jpeg


def make_video(path: Path, seconds: float, hue: int, size: str = "64x48", fps: int = 3) -> None:
    """Write an H.264 mp4 like ``tvrkit prepare`` makes (yuv420p, x264's default GOP, no audio)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
         "-i", f"testsrc2=s={size}:r={fps}:d={seconds},hue=h={hue}", "-c:v", "libx264", "-pix_fmt", "yuv420p",
         str(path)],
        check=True,
    )


def make_root(
    root: Path,
    splits: dict[str, int],
    size: str = "64x48",
    missing: tuple[str, ...] = (),
    corrupt: tuple[str, ...] = (),
    captions_per_video: int = 2,
) -> Catalog:
    """A dataset root with ``splits[name]`` videos per split (ids ``v000``, ``v001``, ...; 2-5 s).

    Videos in ``missing`` have catalog status "missing" and no file; those in ``corrupt`` are
    marked ok but their file is garbage (so sharding must record a failure and go on).
    """
    videos, captions, rows = [], [], []
    n = 0
    for split, count in splits.items():
        for _ in range(count):
            vid = f"v{n:03d}"
            seconds = 2 + n % 4
            status = "missing" if vid in missing else "ok"
            path = root / "compressed" / f"{vid}.mp4"
            if vid in corrupt:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"\x00not a video\x00" * 64)
            elif status == "ok":
                make_video(path, seconds, hue=(n * 37) % 360, size=size)
            w, h = (int(x) for x in size.split("x"))
            videos.append({"video_id": vid, "source": None, "duration": float(seconds), "fps": 3.0,
                           "width": w, "height": h, "frames": seconds * 3, "status": status})
            for c in range(captions_per_video):
                cid = f"{vid}#{c}"
                captions.append({"caption_id": cid, "video_id": vid, "caption": f"clip {n} caption {c} hue {n * 37}"})
                rows.append({"split": split, "video_id": vid, "caption_id": cid})
            n += 1
    catalog = Catalog.from_records(videos=videos, captions=captions, splits=rows)
    write_catalog(root, catalog)
    return catalog


def sharded_root(root: Path, formats: tuple[str, ...] = ("wds", "lmdb"), **kwargs: object) -> Path:
    """``make_root`` (train: 6 videos, test: 4; v002 missing, v007 corrupt) sharded in ``formats``."""
    from tvrkit.shards.config import ShardConfig
    from tvrkit.shards.stage import run_shard

    make_root(root, {"train": 6, "test": 4}, missing=("v002",), corrupt=("v007",))
    for fmt in formats:
        run_shard(ShardConfig(root=str(root), format=fmt, workers=1, shard_multiple=2, keep_staging=True, **kwargs))
    return root


def quietly_damaged(jpeg: bytes) -> bytes:
    """``jpeg`` with one byte flipped such that the lenient decode still succeeds."""
    for offset in range(len(jpeg) // 2, len(jpeg) - 2):
        bad = bytearray(jpeg)
        bad[offset] ^= 0xFF
        try:
            decode_jpeg(bytes(bad))
            decode_frames([bytes(bad)], strict=True)
        except RuntimeError:
            continue  # the lenient decoder refuses it too: not the case under test
        except ValueError:
            return bytes(bad)
    raise AssertionError("no quietly damaging byte found")
