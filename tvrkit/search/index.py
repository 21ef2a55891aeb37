"""The ``tvrkit index`` stage: a folder of videos -> a searchable library in ``OUT/``.

``OUT/compressed/{id}.mp4`` (the prepare stage's compressor; a file already at the settings is
adopted as it is), ``OUT/features/videos`` (a feature store: each clip's per-frame features
and global vector, embedded once), ``OUT/strips/{id}.jpg`` (frames shown by the page),
``OUT/vectors.faiss`` (the global vectors, row = store row), ``OUT/videos.parquet``
(metadata in the same row order, the model identity in its schema metadata),
``OUT/failures.jsonl`` and ``OUT/index.summary.json`` (written last).

Re-running is incremental: files whose size and mtime are unchanged keep their features,
new and changed files are embedded, deleted ones dropped; another model (or other frame
settings) re-embeds everything. Every file is written under a temporary name and renamed,
and a reader checks the pieces agree (:mod:`tvrkit.search.query`), so a killed run leaves
the previous index usable or is caught, and the next run redoes what is missing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from tvrkit import __version__
from tvrkit.config import save_resolved, to_dict
from tvrkit.config.load import RESOLVED_NAME
from tvrkit.errors import ConfigError, StageError
from tvrkit.fsutil import atomic_path, write_bytes_atomic
from tvrkit.locks import output_lock
from tvrkit.retrieval.model_source import ModelSource, load_model
from tvrkit.runlog import FAILURES_FILE, FailureLog, write_summary
from tvrkit.search.config import IndexConfig, identity, model_source, model_spec
from tvrkit.search.library import Plan, SourceFile, plan_update, scan_folder

log = logging.getLogger(__name__)
STAGE = "index"
CLIPS, STRIPS, FEATURES = "compressed", "strips", "features"
STORE = "videos"
VECTORS_FILE, TABLE_FILE, SUMMARY_FILE = "vectors.faiss", "videos.parquet", "index.summary.json"
META_KEY = b"tvrkit"


def read_table(out: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows of ``OUT/videos.parquet`` and its metadata (identity, model, index type); empty when absent."""
    import pyarrow.parquet as pq

    path = out / TABLE_FILE
    if not path.exists():
        return [], {}
    table = pq.ParquetFile(path).read()  # not pq.read_table: its pyarrow.dataset import costs a query 50 ms CPU
    return table.to_pylist(), json.loads((table.schema.metadata or {}).get(META_KEY, b"{}"))


def _write_table(out: Path, rows: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("video_id", pa.string()), ("relpath", pa.string()), ("source", pa.string()),
                        ("size", pa.int64()), ("mtime_ns", pa.int64()), ("duration", pa.float64()),
                        ("fps", pa.float64()), ("width", pa.int64()), ("height", pa.int64()),
                        ("frames", pa.int64()), ("frame_times", pa.list_(pa.float64()))])
    table = pa.Table.from_pylist(rows, schema=schema)
    table = table.replace_schema_metadata({META_KEY: json.dumps(meta, sort_keys=True).encode("utf-8")})
    with atomic_path(out / TABLE_FILE, suffix=".parquet") as tmp:
        pq.write_table(table, tmp)


def _adopt(source: Path, clip: Path, cfg: IndexConfig, exe: str) -> None:
    """Link (or copy) a source that already has the output's codec, rate and size into place; the
    compressor then checks it like any existing output and keeps it, or redoes it."""
    from tvrkit.media.probe import ProbeError, probe

    try:
        info = probe(source, exe, "header", timeout=cfg.compress.timeout)
    except ProbeError:
        return
    if (info.codec != "h264" or info.has_audio or info.fps is None or abs(info.fps - cfg.compress.fps) > 0.01
            or info.width is None or info.height is None or min(info.width, info.height) != cfg.compress.size):
        return
    clip.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, clip)
    except OSError:
        shutil.copyfile(source, clip)


def _compress(todo: list[SourceFile], out: Path, cfg: IndexConfig, failures: FailureLog) -> dict[str, Any]:
    """Compress ``todo`` into ``OUT/compressed``; returns id -> probe info of the good clips."""
    from tvrkit.media.compress import Job, compress_videos
    from tvrkit.media.ffmpeg import ffmpeg_exe

    exe = ffmpeg_exe(cfg.compress.ffmpeg)
    for f in todo:
        clip = out / CLIPS / f"{f.video_id}.mp4"
        clip.unlink(missing_ok=True)  # a changed file must not be matched against its old clip
        _adopt(f.path, clip, cfg, exe)
    by_id = {f.video_id: f for f in todo}
    outcomes = compress_videos([Job(f.video_id, f.path) for f in todo], out / CLIPS, cfg.compress, exe)
    good = {}
    for o in outcomes:
        if o.status in ("ok", "skipped") and o.info is not None and o.info.frames:
            good[o.video_id] = o.info
        else:
            failures.record(by_id[o.video_id].relpath, o.error or o.status, video_id=o.video_id,
                            step=o.step or "compress")
    return good


def _previous(out: Path, ident: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], Any]:
    """The previous run's rows and store, when it used the same model and settings (else nothing)."""
    from tvrkit.retrieval.store import FeatureStore

    rows, meta = read_table(out)
    store_dir = out / FEATURES / STORE
    if not rows or not FeatureStore.is_complete(store_dir):
        return {}, None
    if meta.get("identity") != ident:
        log.warning("%s was built with another model or frame settings: re-embedding every video", out)
        return {}, None
    store = FeatureStore(store_dir)
    present = set(store.ids)
    return {r["video_id"]: r for r in rows if r["video_id"] in present}, store


def _row(f: SourceFile, info: Any, times: list[float]) -> dict[str, Any]:
    return {"video_id": f.video_id, "relpath": f.relpath, "source": str(f.path), "size": f.size,
            "mtime_ns": f.mtime_ns, "duration": info.duration, "fps": info.fps, "width": info.width,
            "height": info.height, "frames": info.frames, "frame_times": times}


def _replace_dir(new: Path, final: Path) -> None:
    """Put directory ``new`` at ``final`` (the old one removed after the rename)."""
    old = final.with_name(final.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        os.replace(final, old)
    os.replace(new, final)
    if old.exists():
        shutil.rmtree(old)


def _embed(cfg: IndexConfig, source: ModelSource, clips: dict[str, Path], out: Path) -> tuple[Any, list[str], float]:
    """Encode ``clips`` with the index's model into ``OUT/features/.new``."""
    import torch

    from tvrkit.search.embed_library import embed_clips

    started = time.perf_counter()
    device = torch.device(cfg.device)
    model = load_model(source, device)
    store, unreadable = embed_clips(model, clips, source.data, out / FEATURES / ".new", device=device,
                                    batch_size=cfg.batch_size or source.data.eval_batch_size,
                                    workers=cfg.loader_workers, dtype=cfg.feature_dtype)
    return store, unreadable, time.perf_counter() - started


def _write_strips(out: Path, ids: list[str], cfg: IndexConfig) -> None:
    from tvrkit.retrieval.strips import make_strips

    for vid, jpeg in make_strips(out, ids, ("compressed",), cfg.strip_frames, cfg.strip_height).items():
        write_bytes_atomic(out / STRIPS / f"{vid}.jpg", jpeg)


def _own_outputs(out: Path, videos: str) -> list[Path]:
    """What the scan of ``videos`` must not enter: the index, when it lies inside the folder (its
    compressed copies would be indexed again on every run); its outputs, when it is the folder."""
    if out.resolve() != Path(videos).resolve():
        return [out]
    return [out / name for name in (CLIPS, STRIPS, FEATURES, VECTORS_FILE, TABLE_FILE, SUMMARY_FILE, FAILURES_FILE,
                                    RESOLVED_NAME)]


def _drop(out: Path, video_ids: list[str]) -> None:
    for vid in video_ids:
        for path in (out / CLIPS / f"{vid}.mp4", out / STRIPS / f"{vid}.jpg"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def run_index(cfg: IndexConfig) -> dict[str, Any]:
    """Build or update the index ``cfg.out`` from ``cfg.videos``; returns the summary (also
    written to ``OUT/index.summary.json``). Bad files are recorded in ``OUT/failures.jsonl``.
    The run holds ``OUT``'s write lock: a second index run on it exits at once."""
    with output_lock(cfg.out, STAGE):
        return _run_index(cfg)


def _run_index(cfg: IndexConfig) -> dict[str, Any]:
    from tvrkit.retrieval.embed import GLOBAL
    from tvrkit.retrieval.store import FeatureStore, merge_stores
    from tvrkit.search.embed_library import frame_times
    from tvrkit.search.faiss_index import build_index, check_trainable

    started = time.monotonic()
    out = Path(cfg.out)
    spec = model_spec(cfg.checkpoint, cfg.model_config)
    source = model_source(spec)
    ident = identity(source)
    previous, old_store = _previous(out, ident)
    skipped: list[tuple[str, str]] = []  # (file, reason) of names the scan cannot take
    plan: Plan = plan_update(scan_folder(cfg.videos, _own_outputs(out, cfg.videos), lambda *s: skipped.append(s)),
                             previous)
    log.info("index %s: %d new or changed, %d unchanged, %d deleted", out, len(plan.todo), len(plan.unchanged),
             len(plan.deleted))
    if cfg.index_type == "ivf-pq":  # before any work: can this library train one at all?
        try:
            check_trainable(len(plan.todo) + len(plan.unchanged), cfg.index_params)
        except ValueError as exc:
            raise ConfigError(f"index_type ivf-pq: {exc}") from exc
    out.mkdir(parents=True, exist_ok=True)
    rows = {f.video_id: previous[f.video_id] for f in plan.unchanged}
    embed_seconds = 0.0
    with FailureLog(out, STAGE) as failures:
        for relpath, reason in skipped:
            failures.record(relpath, reason, step="scan")
        infos = _compress(plan.todo, out, cfg, failures) if plan.todo else {}
        parts = [old_store] if old_store is not None else []
        if infos:
            clips = {v: out / CLIPS / f"{v}.mp4" for v in infos}
            new_store, unreadable, embed_seconds = _embed(cfg, source, clips, out)
            parts.append(new_store)
            todo = {f.video_id: f for f in plan.todo}
            for vid in unreadable:
                failures.record(todo[vid].relpath, "the compressed clip could not be decoded", video_id=vid,
                                step="embed")
            for vid in new_store.ids:
                info = infos[vid]
                rows[vid] = _row(todo[vid], info, frame_times(info.frames, info.fps, source.data))
            _write_strips(out, list(new_store.ids), cfg)
        order = [f.video_id for f in sorted([*plan.todo, *plan.unchanged], key=lambda f: f.relpath)
                 if f.video_id in rows]
        if not order and not failures.records:
            raise StageError(f"no files under {cfg.videos} (hidden files and the index's own folder are not scanned)")
        if not order:
            raise StageError(f"no video under {cfg.videos} could be indexed; see {out / 'failures.jsonl'}")
        merged = merge_stores(parts, out / FEATURES / ".merged", order, extra={"identity": ident})
        _replace_dir(merged.directory, out / FEATURES / STORE)
        shutil.rmtree(out / FEATURES / ".new", ignore_errors=True)
        store_dir = out / FEATURES / STORE
        t0 = time.perf_counter()
        try:
            vectors = build_index(FeatureStore(store_dir).array(GLOBAL), cfg.index_type, cfg.index_params)
        except ValueError as exc:  # e.g. an ivf-pq index for a library too small to train it
            raise ConfigError(f"index_type {cfg.index_type}: {exc}") from exc
        vectors.save(out / VECTORS_FILE)
        build_seconds = time.perf_counter() - t0
        meta = {"identity": ident, "model": spec, "index_type": cfg.index_type,
                "index_params": to_dict(cfg.index_params), "count": len(order)}
        _write_table(out, [rows[v] for v in order], meta)
        _drop(out, list(plan.deleted) + [f.video_id for f in plan.todo if f.video_id not in rows])
    save_resolved(cfg, out)
    summary = {"stage": STAGE, "ok": sum(f.video_id in rows for f in plan.todo), "skipped": len(plan.unchanged),
               "failed": len(failures.records), "deleted": len(plan.deleted), "videos": len(order),
               "embedded": len(order) - len(plan.unchanged), "embed_seconds": round(embed_seconds, 3),
               "index_seconds": round(build_seconds, 3), "seconds": round(time.monotonic() - started, 3),
               "index_type": cfg.index_type, "identity": ident, "config": to_dict(cfg),
               "versions": {"tvrkit": __version__}}
    write_summary(out / SUMMARY_FILE, summary)
    return summary
