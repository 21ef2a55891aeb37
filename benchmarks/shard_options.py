"""Shard-time options a user trades explicitly: full short-side frames vs ``--crop center``, and
the JPEG quality. For each combination: bytes per stored frame, and how fast a loader worker
decodes and crops it (frames/s, one process), against today's default (full frames, q90).

The frames are those of real compressed clips, encoded with the shard stage's own functions
(:func:`~tvrkit.shards.staging.center_square`, :func:`~tvrkit.shards.staging.encode_jpeg`) and
decoded with the loaders' (:func:`~tvrkit.data.transforms.decode_jpeg`, ``FrameTransform.crop``).
Combinations are timed in turns over several rounds and the best round counts; frames/s are
per CPU second of the one decoding thread.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

DEFAULT = ("none", 90)  # today's shards: full short-side frames at quality 90


@dataclasses.dataclass(frozen=True)
class ShardOptionsBenchConfig:
    """The clips to encode and the combinations to compare."""

    clips: tuple[str, ...]
    crops: tuple[str, ...] = ("none", "center")
    qualities: tuple[int, ...] = (75, 90, 95)
    image_size: int = 224
    rounds: int = 5
    repeat: int = 8  # passes over the frames per timed round (a round of a few hundred ms)


def _encoded(cfg: ShardOptionsBenchConfig, crop: str, quality: int, videos: list[Any]) -> list[bytes]:
    from tvrkit.shards.staging import center_square, encode_jpeg

    out = []
    for frames in videos:
        stored = center_square(frames, cfg.image_size) if crop == "center" else frames
        out += [encode_jpeg(frame, quality) for frame in stored]
    return out


def _decode_cpu_seconds(jpegs: list[bytes], image_size: int, repeat: int) -> float:
    """CPU seconds of this process (one thread) to decode and crop ``jpegs`` ``repeat`` times:
    on a shared machine CPU time, unlike wall time, leaves out the neighbours' turns."""
    import torch

    from tvrkit.data.transforms import FrameTransform
    from tvrkit.shards.frames import decode_jpeg

    transform = FrameTransform(image_size)
    start = time.process_time()
    for _ in range(repeat):
        for first in range(0, len(jpegs), 12):  # one sample's frames at a time, as a loader worker
            transform.crop(torch.stack([decode_jpeg(b) for b in jpegs[first:first + 12]]))
    return time.process_time() - start


def run_shard_options_bench(cfg: ShardOptionsBenchConfig) -> dict[str, Any]:
    """Bytes per frame and decode+crop frames/s of every (crop, quality), and ratios to the default."""
    import torch

    from tvrkit.media.decode import decode_video

    torch.set_num_threads(1)  # as in a DataLoader worker
    videos = [decode_video(path).frames for path in dict.fromkeys(cfg.clips)]
    combos = [(crop, quality) for crop in cfg.crops for quality in cfg.qualities]
    encoded = {combo: _encoded(cfg, *combo, videos) for combo in combos}
    best = {combo: float("inf") for combo in combos}
    for _ in range(cfg.rounds + 1):  # the first round warms up
        for combo in combos:
            best[combo] = min(best[combo], _decode_cpu_seconds(encoded[combo], cfg.image_size, cfg.repeat))
    rows = []
    for combo in combos:
        jpegs = encoded[combo]
        rows.append({"crop": combo[0], "quality": combo[1], "frames": len(jpegs),
                     "bytes_per_frame": sum(map(len, jpegs)) / len(jpegs),
                     "frames_per_s": len(jpegs) * cfg.repeat / best[combo]})
    base = next(r for r in rows if (r["crop"], r["quality"]) == DEFAULT)
    for r in rows:
        r["speed_vs_default"] = r["frames_per_s"] / base["frames_per_s"]
        r["bytes_vs_default"] = r["bytes_per_frame"] / base["bytes_per_frame"]
    shapes = sorted({f"{v.shape[2]}x{v.shape[1]}" for v in videos})
    return {"config": dataclasses.asdict(cfg), "sizes": shapes, "rows": rows}


def format_report(result: dict[str, Any]) -> str:
    """One line per (crop, quality)."""
    cfg = result["config"]
    lines = [f"shard options: {len(set(cfg['clips']))} clip(s) ({', '.join(result['sizes'])}), decode + crop to "
             f"{cfg['image_size']} px in one thread, best of {cfg['rounds']} round(s) of {cfg['repeat']} passes; "
             "default = crop none, q90",
             f"{'crop':<8}{'quality':>8}{'bytes/frame':>13}{'frames/CPU s':>14}{'speed':>8}{'bytes':>8}"]
    for r in result["rows"]:
        lines.append(f"{r['crop']:<8}{r['quality']:>8}{r['bytes_per_frame']:>13.0f}{r['frames_per_s']:>14.1f}"
                     f"{r['speed_vs_default']:>7.2f}x{r['bytes_vs_default']:>7.2f}x")
    return "\n".join(lines)
