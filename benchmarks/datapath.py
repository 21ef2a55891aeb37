"""The data-path stages of ``make bench``: the loaders against the JPEG decode floor, the
raw-video decoders, and the shard-time options, on the synthetic dataset and, when
``../shared/fixtures`` is present, on 40 copies of the real MSR-VTT clip there (synthetic
shapes decode far faster than real footage, which flatters the raw-video loader).

Each stage returns summary rows ``(stage, figure, floor or baseline, ratio)`` and its report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks import REAL_CLIP

REAL_COPIES = 40
Row = tuple[str, str, str, str]


def real_root(synthetic_root: Path) -> Path | None:
    """The real-footage dataset beside the synthetic one (built once), or None without fixtures."""
    from benchmarks.clips import real_clip_root

    if not REAL_CLIP.is_file():
        return None
    return real_clip_root(synthetic_root.parent / f"real{REAL_COPIES}", REAL_CLIP, REAL_COPIES)


def _datasets(root: Path) -> list[tuple[str, Path, str]]:
    """(label, root, split) of each dataset the loader benchmark reads."""
    from benchmarks.clips import SPLIT

    real = real_root(root)
    return [("synthetic", root, "train")] + ([(f"{REAL_COPIES} real clips", real, SPLIT)] if real else [])


def loader_stage(root: Path) -> tuple[list[Row], str]:
    """Sharded and raw loaders vs the decode+crop floor, same frames, same process count."""
    from tvrkit.probe.loader import LoaderBenchConfig, format_report, run_loader_bench

    rows, reports = [], []
    for label, data, split in _datasets(root):
        r = run_loader_bench(LoaderBenchConfig(root=str(data), split=split, workers=2, batch_size=4, passes=3))
        floor, ratios = r["rates"]["floor"], r["ratios"]
        rows += [(f"loader {fmt}, {label}",
                  f"{r['rates'][fmt]['frames_per_s']:.0f} frames/s ({r['rates'][fmt]['frames_per_s_per_process']:.0f} "
                  "per worker)",
                  f"JPEG decode+crop floor: {floor['frames_per_s']:.0f} frames/s; raw-video loader: "
                  f"{r['rates']['raw']['frames_per_s']:.0f}",
                  f"{ratios[f'{fmt}/floor']:.2f}x floor (target >= 0.85), "
                  f"{ratios[f'{fmt}/raw']:.2f}x raw (target >= 3)")
                 for fmt in ("lmdb", "wds")]
        reports.append(format_report(r))
    return rows, "\n\n".join(reports)


def _clips(root: Path) -> tuple[str, ...]:
    from benchmarks.decoders import clips_of

    real = real_root(root)
    return clips_of(real) if real else clips_of(root)


def decoder_stage(root: Path, opens: int) -> tuple[list[Row], str]:
    """frames/s and RSS growth of each raw-video back-end over ``opens`` opens."""
    from benchmarks.decoders import DecoderBenchConfig, format_report, run_decoder_bench
    from tvrkit.media.decode import sampled_order

    default = sampled_order()[0]
    r = run_decoder_bench(DecoderBenchConfig(clips=_clips(root), opens=opens))
    ok = [row for row in r["rows"] if "error" not in row]
    base = next((row for row in ok if row["decoder"] == "decord"), None)
    rows: list[Row] = []
    for row in ok:
        versus = (f"{row['frames_per_cpu_s'] / base['frames_per_cpu_s']:.2f}x decord per CPU s"
                  if base is not None and row is not base else "")
        rows.append((f"raw decode {row['decoder']}, {opens:,} opens",
                     f"{row['frames_per_s']:.0f} frames/s ({row['frames_per_cpu_s']:.0f} per CPU s), "
                     f"RSS {row['rss_growth_mib']:+.1f} MiB",
                     f"RSS after warm-up: {row['rss_start_mib']:.0f} MiB",
                     ", ".join(filter(None, [versus, "flat" if row["flat"] else "GROWS",
                                             "winner" if row["decoder"] == r["winner"] else "",
                                             "the raw loader's default" if row["decoder"] == default else ""]))))
    return rows, format_report(r)


def shard_options_stage(root: Path) -> tuple[list[Row], str]:
    """Bytes per frame and decode+crop speed of full vs center-cropped frames and JPEG qualities."""
    from benchmarks.shard_options import ShardOptionsBenchConfig, format_report, run_shard_options_bench

    clips = (str(REAL_CLIP),) if REAL_CLIP.is_file() else _clips(root)[:6]
    r: dict[str, Any] = run_shard_options_bench(ShardOptionsBenchConfig(clips=clips))
    rows = [(f"shard crop {row['crop']}, q{row['quality']}",
             f"{row['bytes_per_frame'] / 1000:.1f} kB/frame, {row['frames_per_s']:.0f} frames/CPU s decode+crop",
             "crop none, q90 (default)",
             f"{row['speed_vs_default']:.2f}x speed, {row['bytes_vs_default']:.2f}x bytes")
            for row in r["rows"] if (row["crop"], row["quality"]) != ("none", 90)]
    return rows, format_report(r)
