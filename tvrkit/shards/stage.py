"""``run_shard``: compressed videos -> per-video JPEG fragments -> shards + manifest per split.

Two phases keep the output independent of parallelism and make it resumable:
1. *stage*: every video of the requested splits is decoded and JPEG-encoded into its own
   fragment (``ROOT/shards/.staging/``), by a process pool in any order; finished fragments
   survive a kill and are reused.
2. *pack*: per split, the chosen format plans shards from the fragments' sizes in catalog
   order and writes each one to a temporary name before renaming it; shards already in
   place under the same plan are kept. The manifest is written last.
Failures (catalog status not ok, undecodable video) are recorded and the rest goes on.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import logging
import multiprocessing
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tvrkit.cluster import in_part, part_dir, remove_parts, resolve_part
from tvrkit.config import to_dict
from tvrkit.errors import ConfigError
from tvrkit.fsutil import atomic_path, sha256_file, write_json_atomic
from tvrkit.locks import output_lock
from tvrkit.runlog import FailureLog, write_summary
from tvrkit.shards.config import ShardConfig
from tvrkit.shards.formats.base import ShardFormat, get_format, split_dir
from tvrkit.shards.manifest import MANIFEST, build_manifest, read_manifest, shard_record, write_manifest
from tvrkit.shards.parts import merged_staged, parts_base, write_part
from tvrkit.shards.plan import parse_size
from tvrkit.shards.staging import EncodeJob, Staged, encode_video

log = logging.getLogger(__name__)
PLAN = ".plan.json"
STATUS_PREFIX = "catalog status"


def shard_params(cfg: ShardConfig) -> dict[str, Any]:
    """The settings that determine shard bytes (recorded in, and compared against, manifests)."""
    return {"jpeg_quality": cfg.jpeg_quality, "crop": cfg.crop,
            "crop_size": cfg.crop_size if cfg.crop == "center" else None,
            "shard_size": parse_size(cfg.shard_size), "shard_multiple": cfg.shard_multiple,
            "decoders": list(cfg.decoders)}


def staging_dir(root: str | os.PathLike[str], params: dict[str, Any]) -> Path:
    """Fragments depend on quality, crop and decoder order only, so both formats share them."""
    crop = f"-center{params['crop_size']}" if params["crop_size"] else ""
    return Path(root) / "shards" / ".staging" / f"q{params['jpeg_quality']}{crop}-{'-'.join(params['decoders'])}"


def _is_complete(out: Path, params: dict[str, Any], encodable: list[str], split_ids: list[str]) -> bool:
    """A split is done when its manifest has the same params and covers the same videos, and the
    videos it tried to encode are exactly those the catalog now marks ok."""
    try:
        manifest = read_manifest(out)
    except Exception:
        return False
    stored = [v for s in manifest["shards"] for v in s["video_ids"]]
    tried = set(stored) | {f["video_id"] for f in manifest["failed"] if not f["error"].startswith(STATUS_PREFIX)}
    covered = set(stored) | {f["video_id"] for f in manifest["failed"]}
    return manifest["params"] == params and covered == set(split_ids) and tried == set(encodable)


def _stage(jobs: list[EncodeJob], workers: int) -> Iterator[Staged]:
    if workers <= 1 or len(jobs) <= 1:
        yield from map(encode_video, jobs)
        return
    # spawn: workers must not inherit the parent's threads (pyarrow) or open decoders
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        yield from pool.map(encode_video, jobs, chunksize=1)


def _progress(items: Iterable[Staged], total: int) -> Iterator[Staged]:
    from tqdm import tqdm

    yield from tqdm(items, total=total, desc="encode", unit="video", disable=None, leave=False)


def _clean_split_dir(out: Path, keep: set[str]) -> None:
    """Remove what an earlier run left that the current plan does not contain (stale shards of
    another plan, temporary files of a killed run)."""
    for path in out.iterdir():
        if path.name not in keep:
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def _pack(
    fmt: ShardFormat, split: str, out: Path, videos: list[Staged], params: dict[str, Any]
) -> list[dict[str, Any]]:
    planned = fmt.plan(split, videos, params["shard_size"], params["shard_multiple"])
    plan_doc = {"format": fmt.name, "params": params,
                "shards": [{"file": p.file, "videos": [[v.video_id, v.bytes] for v in p.videos]} for p in planned]}
    out.mkdir(parents=True, exist_ok=True)
    try:
        same_plan = json.loads((out / PLAN).read_text(encoding="utf-8")) == plan_doc
    except (OSError, json.JSONDecodeError):
        same_plan = False
    _clean_split_dir(out, {PLAN} | ({p.file for p in planned} if same_plan else set()))
    write_json_atomic(out / PLAN, plan_doc)
    records = []
    for shard in planned:
        path = out / shard.file
        if path.exists():
            log.info("keeping complete shard %s", path)
        else:
            with atomic_path(path) as tmp:
                fmt.write(shard, tmp)
        records.append(shard_record(shard.file, sha256_file(path), path.stat().st_size,
                                    [v.video_id for v in shard.videos], sum(v.frames for v in shard.videos)))
    return records


def run_shard(cfg: ShardConfig) -> dict[str, Any]:
    """Shard every requested split of ``cfg.root``; return the run summary (also written to
    ``ROOT/shards/{format}/summary.json``). The run holds the write lock of ``ROOT/shards`` (a
    part: of its own folder), so a second shard run exits at once instead of clearing this
    one's split folders."""
    index, count = resolve_part(cfg.part)
    folder = part_dir(parts_base(cfg.root, cfg.format), index, count) if count > 1 else Path(cfg.root) / "shards"
    with output_lock(folder, "shard"):
        return _run_shard(cfg, index, count)


def _run_shard(cfg: ShardConfig, index: int, count: int) -> dict[str, Any]:
    from tvrkit.catalog import read_catalog

    started = time.monotonic()
    if count > 1 and cfg.merge:
        raise ConfigError(f"part {cfg.part}: a part stages its share; --merge packs them all afterwards, once")
    fmt = get_format(cfg.format)
    params = shard_params(cfg)
    catalog = read_catalog(cfg.root)
    splits = list(cfg.splits) or catalog.split_names()
    unknown = sorted(set(splits) - set(catalog.split_names()))
    if unknown:
        raise ConfigError(f"unknown split(s) {', '.join(unknown)}; the catalog has: {', '.join(catalog.split_names())}")
    rows = catalog.video_rows()
    compressed = Path(cfg.root) / "compressed"
    staging = staging_dir(cfg.root, params)
    split_ids = {s: catalog.split_video_ids(s) for s in splits}
    encodable = {s: [v for v in ids if rows[v]["status"] == "ok"] for s, ids in split_ids.items()}
    todo = [s for s in splits if not _is_complete(split_dir(cfg.root, fmt.name, s), params, encodable[s], split_ids[s])]
    wanted = list(dict.fromkeys(v for s in todo for v in encodable[s]))
    jobs = [EncodeJob(v, str(compressed / f"{v}.mp4"), str(staging / f"{v}.tar"), cfg.jpeg_quality,
                      tuple(cfg.decoders), params["crop_size"]) for v in wanted]
    if count > 1:
        return _run_part(cfg, [j for j in jobs if in_part(j.video_id, index, count)], params, index, count, started)
    if cfg.merge and jobs:  # (nothing to merge when every split is already complete)
        results: Iterable[Staged] = merged_staged(parts_base(cfg.root, fmt.name), params, jobs)
    else:
        results = _progress(_stage(jobs, cfg.workers), len(jobs))
    summary: dict[str, Any] = {"stage": "shard", "ok": 0, "skipped": 0, "failed": 0, "splits": {}}
    with FailureLog(cfg.root, "shard") as failures:
        recorded: set[str] = set()
        for split in [s for s in splits if s not in todo]:
            summary["skipped"] += len(split_ids[split])
            log.info("split %s is already sharded as %s; skipping", split, fmt.name)
            # keep its encode failures in failures.jsonl (this stage's lines are rewritten at the end)
            for item in read_manifest(split_dir(cfg.root, fmt.name, split))["failed"]:
                if not item["error"].startswith(STATUS_PREFIX) and item["video_id"] not in recorded:
                    recorded.add(item["video_id"])
                    failures.record(item["video_id"], item["error"])
        staged: dict[str, Staged] = {}
        for result in results:
            staged[result.video_id] = result
            if not result.ok and result.video_id not in recorded:
                recorded.add(result.video_id)
                failures.record(result.video_id, result.error)
        for split in todo:
            failed = [{"video_id": v, "error": f"{STATUS_PREFIX} {rows[v]['status']!r}"}
                      for v in split_ids[split] if rows[v]["status"] != "ok"]
            failed += [{"video_id": v, "error": staged[v].error} for v in encodable[split] if not staged[v].ok]
            videos = [staged[v] for v in encodable[split] if staged[v].ok]
            out = split_dir(cfg.root, fmt.name, split)
            (out / MANIFEST).unlink(missing_ok=True)  # the split is incomplete until rewritten
            shards = _pack(fmt, split, out, videos, params)
            manifest = build_manifest(fmt.name, split, params, shards, failed, {v.video_id: v.decoder for v in videos})
            write_manifest(out, manifest)
            (out / PLAN).unlink()
            summary["ok"] += len(videos)
            summary["failed"] += len(failed)
            summary["splits"][split] = manifest["totals"]
    if cfg.merge:
        remove_parts(parts_base(cfg.root, fmt.name))
    if not cfg.keep_staging:
        shutil.rmtree(staging, ignore_errors=True)
        with contextlib.suppress(OSError):
            staging.parent.rmdir()  # only when no other fragment set is kept there
    summary.update(seconds=round(time.monotonic() - started, 3), config=to_dict(cfg), versions=_versions())
    write_summary(Path(cfg.root) / "shards" / fmt.name / "summary.json", summary)
    return summary


def _run_part(cfg: ShardConfig, jobs: list[EncodeJob], params: dict[str, Any], index: int, count: int,
              started: float) -> dict[str, Any]:
    """Stage this part's share of the videos and record it; packing waits for ``--merge``."""
    folder = part_dir(parts_base(cfg.root, cfg.format), index, count)
    counts = write_part(folder, _progress(_stage(jobs, cfg.workers), len(jobs)), params, f"{index}/{count}")
    summary = {"stage": "shard", "part": f"{index}/{count}", **counts, "skipped": 0, "splits": {},
               "seconds": round(time.monotonic() - started, 3), "config": to_dict(cfg), "versions": _versions()}
    write_summary(folder / "summary.json", summary)
    return summary


def _versions() -> dict[str, str]:
    import decord
    import PIL

    import tvrkit

    return {"tvrkit": tvrkit.__version__, "decord": decord.__version__, "pillow": PIL.__version__}
