"""Loader probe: samples/s and frames/s of the lmdb, wds and raw loaders against the floor.

The floor is the work no loader can avoid: decoding and cropping the same JPEG frames (those
the uniform sampler picks) to uint8 in a tight loop, spread over the same number of processes
as the loaders' workers, with no DataLoader, IPC or file access around it. "floor+batch" also
writes each result into a fresh uint8 ``[B, T, 3, S, S]`` batch, the memory a loader must fill
for every batch, so the report shows where the rest of the time goes. The loaders are timed on
the uint8 batches they deliver to the main process (what a GPU prefetcher copies; CLIP
normalisation then runs on the GPU); with ``device`` set they are iterated through
:class:`~tvrkit.data.device.DeviceBatches` onto it, normalisation included.
Each loader is timed over full passes of the split after a warm-up pass (page cache warm,
as in training after the first epoch), in turns with the floor; the best pass counts, as for
the floor. Loader rates are steady-state, after each worker's first batch; the start-up
(forking workers, first batches) is reported beside them, since a real epoch of thousands of
batches amortises it. CPU ms per frame sums every process of a pass (the main process, the
workers, their start-up): what each costs in CPU, which a busy machine distorts less than wall time.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import time
from typing import Any

from tvrkit.data.config import DataConfig
from tvrkit.data.frame_indices import uniform_frames
from tvrkit.errors import DataError


@dataclasses.dataclass(frozen=True)
class LoaderBenchConfig:
    """What to measure; loaders run with the same workers, batch, frames and image size."""

    root: str
    split: str
    formats: tuple[str, ...] = ("lmdb", "wds", "raw")
    workers: int = 2
    batch_size: int = 8
    image_size: int = 224
    max_frames: int = 12
    frame_rate: float = 1.0
    passes: int = 3
    device: str | None = None  # None: the loaders' uint8 batches; "cpu"/"cuda": normalised on that device


def _floor_jpegs(cfg: LoaderBenchConfig) -> list[list[bytes]]:
    """Per video, the JPEGs of the frames the uniform sampler picks (read from a shard format)."""
    from tvrkit.shards.formats.base import get_format, split_dir
    from tvrkit.shards.manifest import read_manifest

    for fmt_name in ("wds", "lmdb"):
        directory = split_dir(cfg.root, fmt_name, cfg.split)
        if (directory / "manifest.json").exists():
            break
    else:
        raise DataError(f"the floor needs shards of split {cfg.split!r}: run `tvrkit shard` first")
    fmt = get_format(fmt_name)
    frames: dict[str, dict[int, bytes]] = {}
    metas: dict[str, dict[str, Any]] = {}
    for shard in read_manifest(directory)["shards"]:
        for entry in fmt.entries(directory / shard["file"], with_frames=True):
            if entry.frame is None:
                metas[entry.video_id] = json.loads(entry.data or b"")
            else:
                frames.setdefault(entry.video_id, {})[entry.frame] = entry.data or b""
    out = []
    for vid, meta in metas.items():
        picked = uniform_frames(meta["frames"], meta["fps"], cfg.max_frames, cfg.frame_rate, "uniform")
        out.append([frames[vid][i] for i in picked])
    return out


_FLOOR_WORK: list[list[bytes]] = []  # set before forking so workers inherit it without pickling


def _floor_worker(args: tuple[int, int, int, int, int]) -> tuple[float, float]:
    import torch

    from tvrkit.data.transforms import FrameTransform
    from tvrkit.shards.frames import decode_jpeg

    worker, workers, image_size, max_frames, batch_size = args
    torch.set_num_threads(1)  # as in a DataLoader worker
    transform = FrameTransform(image_size)
    mine = _FLOOR_WORK[worker::workers]
    start, cpu = time.perf_counter(), time.process_time()
    for first in range(0, len(mine), batch_size):
        chunk = mine[first:first + batch_size]
        # with max_frames: also write into a fresh uint8 [B, T, 3, S, S] batch, the one cost a
        # loader must add to the floor (first touch of new memory), to show where time goes
        out = torch.zeros(len(chunk), max_frames, 3, image_size, image_size, dtype=torch.uint8) if max_frames else None
        for i, jpegs in enumerate(chunk):
            frames = transform.crop(torch.stack([decode_jpeg(b) for b in jpegs]))
            if out is not None:
                out[i, :len(jpegs)] = frames
    return time.perf_counter() - start, time.process_time() - cpu


def _rates(frames: int, samples: int, seconds: float, workers: int, startup: float, total: tuple[int, int],
           cpu_seconds: float) -> dict:
    return {"samples_per_s": samples / seconds, "frames_per_s": frames / seconds,
            "frames_per_s_per_process": frames / seconds / max(1, workers),
            "cpu_ms_per_frame": 1000 * cpu_seconds / total[1],
            "samples": total[0], "frames": total[1], "startup_s": startup}


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _floor_pass(pool: Any, cfg: LoaderBenchConfig, batched: bool) -> tuple[float, float]:
    """(seconds, CPU seconds) of one floor pass: the slowest process bounds it, as the last batch
    bounds a loader's; CPU time is the sum over the processes."""
    workers = max(1, cfg.workers)
    args = [(w, workers, cfg.image_size, cfg.max_frames if batched else 0, cfg.batch_size) for w in range(workers)]
    times = pool.map(_floor_worker, args)
    return max(t[0] for t in times), sum(t[1] for t in times)


def _loader_pass(cfg: LoaderBenchConfig, fmt: str) -> dict[str, Any]:
    """One pass of the eval loader over the split. Steady state, as in a long epoch: timed from
    the arrival of the batch that completes each worker's first one (their start-up, reported
    apart) to the end, counting the batches that arrive after it."""
    from tvrkit.data.device import DeviceBatches
    from tvrkit.data.loader import build_video_loader

    data_cfg = DataConfig(root=cfg.root, format=fmt, test_split=cfg.split, max_frames=cfg.max_frames,
                          frame_rate=cfg.frame_rate, eval_batch_size=cfg.batch_size, workers=cfg.workers,
                          image_size=cfg.image_size)
    start, cpu, children = time.perf_counter(), time.process_time(), _children_cpu()
    loader = build_video_loader(data_cfg, cfg.split, cfg.image_size, cfg.device)
    startup_batches = max(1, cfg.workers)
    counts: list[tuple[int, int]] = []
    for batch in loader if cfg.device is None else DeviceBatches(loader, cfg.device):
        counts.append((len(batch["video_ids"]), int(batch["frame_mask"].sum())))
        if len(counts) == startup_batches:
            steady_from = time.perf_counter()
    if len(counts) <= startup_batches:
        raise DataError(f"split {cfg.split!r} gives {len(counts)} batch(es): too few to time past the start-up of "
                        f"{startup_batches} worker(s); lower the batch size")
    seconds = time.perf_counter() - steady_from
    del loader  # its workers have exited (the pass is over): their CPU time is now counted
    cpu_seconds = time.process_time() - cpu + _children_cpu() - children  # start-up included
    after = counts[startup_batches:]
    total = (sum(c[0] for c in counts), sum(c[1] for c in counts))
    return _rates(sum(c[1] for c in after), sum(c[0] for c in after), seconds, cfg.workers, steady_from - start, total,
                  cpu_seconds)


def run_loader_bench(cfg: LoaderBenchConfig) -> dict[str, Any]:
    """Measure the floor and each loader; return rates and ratios. Every pass of each is taken
    in turn, round by round (the first round warms up), and the best pass of each counts, so a
    change in the machine's load during the run hits them alike."""
    global _FLOOR_WORK
    videos = _FLOOR_WORK = _floor_jpegs(cfg)  # set before forking: the floor processes inherit it
    total = (len(videos), sum(len(v) for v in videos))
    rows: dict[str, dict[str, Any]] = {}

    def keep(name: str, rates: dict[str, Any]) -> None:
        if name not in rows or rates["frames_per_s"] > rows[name]["frames_per_s"]:
            rows[name] = rates

    with multiprocessing.get_context("fork").Pool(max(1, cfg.workers)) as pool:
        for round_ in range(cfg.passes + 1):
            for name, batched in (("floor", False), ("floor+batch", True)):
                seconds, cpu_seconds = _floor_pass(pool, cfg, batched)
                if round_:
                    keep(name, _rates(total[1], total[0], seconds, cfg.workers, 0.0, total, cpu_seconds))
            for fmt in cfg.formats:
                rates = _loader_pass(cfg, fmt)
                if round_:
                    keep(fmt, rates)
    ratios = {}
    for fmt in cfg.formats:
        ratios[f"{fmt}/floor"] = rows[fmt]["frames_per_s"] / rows["floor"]["frames_per_s"]
        ratios[f"{fmt}/floor+batch"] = rows[fmt]["frames_per_s"] / rows["floor+batch"]["frames_per_s"]
        if fmt != "raw" and "raw" in rows:
            ratios[f"{fmt}/raw"] = rows[fmt]["frames_per_s"] / rows["raw"]["frames_per_s"]
    return {"config": dataclasses.asdict(cfg), "rates": rows, "ratios": ratios}


def format_report(result: dict[str, Any]) -> str:
    """A small table of rates and the ratios tvrkit aims for (sharded >= 0.85x the floor, >= 3x raw)."""
    cfg = result["config"]
    batches = "uint8 batches" if cfg["device"] is None else f"batches normalised on {cfg['device']}"
    lines = [f"loader benchmark: {cfg['root']} split {cfg['split']}, {cfg['workers']} worker(s), "
             f"batch {cfg['batch_size']}, up to {cfg['max_frames']} frames at {cfg['frame_rate']:g} fps, "
             f"{cfg['image_size']} px, {batches}, best of {cfg['passes']} pass(es)",
             f"{'loader':<12}{'samples/s':>12}{'frames/s':>12}{'per process':>13}{'CPU ms/frame':>14}{'samples':>9}"
             f"{'frames':>9}{'startup s':>11}"]
    for name, row in result["rates"].items():
        lines.append(f"{name:<12}{row['samples_per_s']:>12.1f}{row['frames_per_s']:>12.1f}"
                     f"{row['frames_per_s_per_process']:>13.1f}{row['cpu_ms_per_frame']:>14.2f}{row['samples']:>9}"
                     f"{row['frames']:>9}{row['startup_s']:>11.2f}")
    lines += [f"{name:<18}{value:>6.2f}" for name, value in result["ratios"].items()]
    return "\n".join(lines)
