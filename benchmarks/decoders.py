"""Raw-video decoder benchmark: which back-end the raw loader should use.

For each back-end of :data:`tvrkit.media.decode.SAMPLED` (PyAV, torchcodec, decord), a fresh
process opens the compressed clips ``opens`` times in a row, each time as the raw loader does
(open, read the frame count and rate, let the training sampler pick ``max_frames`` frames,
decode those), and reports the frames/s it returns and its resident memory before and after:
decord is known to leak on long runs (its issues #157, #208), which a training run of
thousands of opens per worker would turn into an out-of-memory kill. The winner is the
fastest back-end whose RSS stays flat (grows by at most ``flat_mib``). One process each,
taking turns, so they never compete for the cores.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import multiprocessing
import time
from pathlib import Path
from typing import Any

from tvrkit.errors import DataError


@dataclasses.dataclass(frozen=True)
class DecoderBenchConfig:
    """What to measure; every back-end reads the same clips with the same sampler."""

    clips: tuple[str, ...]
    decoders: tuple[str, ...] = ("pyav", "torchcodec", "decord")
    opens: int = 2000
    warmup: int = 50  # opens before the first RSS reading (libraries loaded, caches filled)
    max_frames: int = 12
    frame_rate: float = 1.0
    sampling: str = "random"  # the training sampler: one random frame per segment
    flat_mib: float = 16.0  # RSS growth over ``opens`` that still counts as flat


def clips_of(root: str | Path) -> tuple[str, ...]:
    """The compressed clips of a dataset root (``ROOT/compressed/*.mp4``), sorted."""
    clips = tuple(sorted(str(p) for p in (Path(root) / "compressed").glob("*.mp4")))
    if not clips:
        raise DataError(f"no compressed clips under {Path(root) / 'compressed'}: run `tvrkit prepare` first")
    return clips


def _rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise OSError("no VmRSS in /proc/self/status")


_STATE: dict[str, Any] = {}  # the worker process's sampler and counters, kept between rounds


def _round(name: str, cfg: DecoderBenchConfig, first: int, count: int) -> dict[str, Any]:
    """In the back-end's own process: opens ``first .. first + count - 1`` (negative = warm-up)."""
    import numpy as np
    import torch

    from tvrkit.data.frame_indices import sample_frames
    from tvrkit.media.decode import read_sampled

    if not _STATE:
        torch.set_num_threads(1)  # as in a DataLoader worker
        rng = np.random.default_rng(0)
        _STATE["pick"] = lambda n, fps: sample_frames(n, fps, cfg.max_frames, cfg.frame_rate, cfg.sampling,
                                                      "uniform", rng)
    frames, wall, cpu = 0, time.perf_counter(), time.process_time()
    for i in range(first, first + count):
        indices, _ = read_sampled(cfg.clips[i % len(cfg.clips)], _STATE["pick"], (name,))
        frames += len(indices)
    return {"frames": frames, "seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu,
            "rss_mib": _rss_mib()}


def _measure_all(cfg: DecoderBenchConfig) -> dict[str, dict[str, Any]]:
    """Each back-end in its own fresh process; the opens run in ten rounds, the back-ends taking
    turns within each round (only one decodes at a time), so a change in the machine's load
    during the run hits all of them alike."""
    ctx = multiprocessing.get_context("spawn")
    pools = {name: concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) for name in cfg.decoders}
    rows: dict[str, dict[str, Any]] = {}
    try:
        for name, pool in pools.items():
            try:
                warm = pool.submit(_round, name, cfg, -cfg.warmup, cfg.warmup).result()
                rows[name] = {"decoder": name, "opens": 0, "frames": 0, "seconds": 0.0, "cpu_seconds": 0.0,
                              "rss_mib": [warm["rss_mib"]]}
            except DataError as exc:
                rows[name] = {"decoder": name, "error": str(exc)[:300]}
        step = max(1, cfg.opens // 10)
        for first in range(0, cfg.opens, step):
            count = min(step, cfg.opens - first)
            for name, row in rows.items():
                if "error" not in row:
                    got = pools[name].submit(_round, name, cfg, first, count).result()
                    row["opens"] += count
                    for key in ("frames", "seconds", "cpu_seconds"):
                        row[key] += got[key]
                    row["rss_mib"].append(got["rss_mib"])
    finally:
        for pool in pools.values():
            pool.shutdown()
    for row in rows.values():
        if "error" not in row:
            row.update(frames_per_s=row["frames"] / row["seconds"], frames_per_cpu_s=row["frames"] / row["cpu_seconds"],
                       rss_start_mib=row["rss_mib"][0], rss_end_mib=row["rss_mib"][-1],
                       rss_growth_mib=row["rss_mib"][-1] - row["rss_mib"][0])
    return rows


def run_decoder_bench(cfg: DecoderBenchConfig) -> dict[str, Any]:
    """Measure every back-end; the winner is the one with the most frames per CPU second (wall
    time on a shared machine measures the neighbours) among those whose RSS stays flat."""
    rows = list(_measure_all(cfg).values())
    ok = [r for r in rows if "error" not in r]
    for r in ok:
        r["flat"] = r["rss_growth_mib"] <= cfg.flat_mib
    flat = [r for r in ok if r["flat"]]
    winner = max(flat, key=lambda r: r["frames_per_cpu_s"])["decoder"] if flat else None
    return {"config": dataclasses.asdict(cfg), "rows": rows, "winner": winner}


def format_report(result: dict[str, Any]) -> str:
    """One line per back-end: rates, RSS before/after the opens, and the winner."""
    cfg = result["config"]
    lines = [f"raw-video decoders: {cfg['opens']} opens of {len(cfg['clips'])} clip(s) after {cfg['warmup']} warm-up, "
             f"{cfg['sampling']} sampling of up to {cfg['max_frames']} frames at {cfg['frame_rate']:g} fps, "
             "one process each, one thread, taking turns",
             f"{'decoder':<12}{'frames/s':>10}{'frames/CPU s':>14}{'RSS start':>11}{'RSS end':>9}{'growth':>8}  flat"]
    for r in result["rows"]:
        if "error" in r:
            lines.append(f"{r['decoder']:<12}unavailable: {r['error']}")
            continue
        lines.append(f"{r['decoder']:<12}{r['frames_per_s']:>10.1f}{r['frames_per_cpu_s']:>14.1f}"
                     f"{r['rss_start_mib']:>9.1f}MB{r['rss_end_mib']:>7.1f}MB{r['rss_growth_mib']:>+6.1f}MB  "
                     f"{'yes' if r['flat'] else 'NO'}")
    lines.append(f"winner (most frames per CPU second with RSS growth <= {cfg['flat_mib']:g} MiB): {result['winner']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.decoders --root ROOT``: measure and print."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="dataset root whose compressed/*.mp4 are read")
    parser.add_argument("--decoders", nargs="+", default=list(DecoderBenchConfig.decoders))
    parser.add_argument("--opens", type=int, default=DecoderBenchConfig.opens)
    args = parser.parse_args(argv)
    cfg = DecoderBenchConfig(clips=clips_of(args.root), decoders=tuple(args.decoders), opens=args.opens)
    print(format_report(run_decoder_bench(cfg)))


if __name__ == "__main__":
    main()
