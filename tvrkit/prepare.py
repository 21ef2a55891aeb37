"""The ``prepare`` stage: a dataset's annotations -> ``ROOT/catalog``, its raw videos ->
``ROOT/compressed/{video_id}.mp4``, probe results -> ``videos.parquet``, failures ->
``ROOT/failures.jsonl``, and a summary JSON written last.

``part`` I/N (or ``auto``: the Slurm array task's share, see :mod:`tvrkit.cluster`) compresses a
deterministic share of the videos, so N machines can split the work. A part writes only its
own videos under ``compressed/`` and its rows and failures under ``ROOT/parts/prepare/``;
``merge`` then writes the catalog, ``failures.jsonl`` and the summary, byte-identical to
what one machine would have written.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Any

from tvrkit import __version__
from tvrkit.catalog import Catalog, arrow_schema, catalog_dir, write_catalog
from tvrkit.cluster import check_same, in_part, part_dir, read_results, remove_parts, resolve_part, write_result
from tvrkit.config import load_config, option, save_resolved, to_dict
from tvrkit.datasets.base import BuildRequest
from tvrkit.datasets.locate import locate_videos
from tvrkit.datasets.registry import get_dataset
from tvrkit.errors import ConfigError, StageError
from tvrkit.fsutil import write_text_atomic
from tvrkit.locks import output_lock
from tvrkit.media.compress import CompressConfig, Job, Outcome, compress_videos
from tvrkit.media.ffmpeg import ffmpeg_exe, ffmpeg_version
from tvrkit.runlog import FAILURES_FILE, FailureLog, read_failures, write_summary

log = logging.getLogger(__name__)
STAGE = "prepare"
COMPRESSED = "compressed"
PARTS = Path("parts") / STAGE
# settings a part and its merge may differ in: where things are, how fast, how strict
_LOCAL_KEYS = ("part", "merge", "strict", "videos_dir")
_LOCAL_COMPRESS_KEYS = ("workers", "timeout", "ffmpeg")


@dataclasses.dataclass(frozen=True)
class PrepareConfig:
    """Config of :func:`run_prepare`: each option's default, description and allowed values
    (``schemas/prepare.schema.json`` is generated from them)."""

    dataset: str = option("synthetic", "Which dataset's annotations to parse (custom: your own captions file; "
                          "synthetic: generated).", choices=("msrvtt", "msvd", "didemo", "activitynet", "lsmdc",
                                                              "vatex", "charades", "custom", "synthetic"))
    root: str = option("data/synthetic", "Dataset root folder (ROOT): raw/, catalog/, compressed/, failures.jsonl.",
                       min_length=1)
    videos_dir: str | None = option(None, "Folder holding the raw videos (searched recursively by id and common "
                                    "extensions). Synthetic: ROOT/raw_videos.")
    annotations: str | None = option(None, "An annotation archive or folder you already have (no download).")
    annotations_url: str | None = option(None, "Download the annotations from this URL instead of the dataset's own "
                                         "source.")
    captions: str | None = option(None, "custom: CSV or JSONL with video_id, caption, optional split, start, end.")
    test_fraction: float = option(0.0, "custom without a split column: fraction of videos (by a hash of the id) sent "
                                  "to the test split.", minimum=0, maximum=1)
    videos: int = option(400, "synthetic: number of videos to generate.", minimum=2)
    seed: int = option(0, "synthetic: generation seed.", minimum=0)
    skip_videos: bool = option(False, "Only build the catalog; videos stay 'pending'.")
    part: str = option("1/1", "I/N: compress only the I-th of N deterministic shares of the videos (1-based) and "
                       "write their rows and failures under ROOT/parts/prepare/; auto: this Slurm array task's share "
                       "(SLURM_ARRAY_TASK_ID, _COUNT, _MIN, _STEP). Then run once with merge.",
                       pattern="^([0-9]+/[0-9]+|auto)$")
    merge: bool = option(False, "Merge the finished parts (ROOT/parts/prepare/part-I-of-N/) into the catalog, "
                         "failures.jsonl and prepare.summary.json one machine would write; compresses nothing.")
    strict: bool = option(False, "Exit with status 1 when any video is missing or failed (default: warn and exit 0).")
    compress: CompressConfig = option(CompressConfig(), "The ffmpeg compression stage.", ref="compress")


def load_prepare_config(overrides: list[str] | tuple[str, ...] = (),
                        base: dict[str, Any] | None = None) -> PrepareConfig:
    """Prepare config from ``base`` (CLI options) and ``--set`` overrides, with the checks across
    keys (exit 2 before any work)."""
    cfg = load_config(STAGE, PrepareConfig, overrides=overrides, base=base)
    if cfg.annotations and cfg.annotations_url:
        raise ConfigError("give --annotations or --annotations-url, not both")
    return cfg


class _PartFailureLog(FailureLog):
    """A failure log for a run that handles only some videos (a ``part``, or a run cut
    short): finalizing replaces this stage's lines for the videos it processed and keeps
    the others, sorted by video so N parts and one machine write the same file."""

    def __init__(self, root: Path, stage: str) -> None:
        super().__init__(root, stage)
        self.processed: set[str] = set()

    def finalize(self) -> None:
        lines = read_failures(self.root)
        others = [r for r in lines if r.get("stage") != self.stage]
        kept = [r for r in lines if r.get("stage") == self.stage and r.get("item") not in self.processed]
        ours = sorted(kept + self.records, key=lambda r: str(r.get("item")))
        text = "".join(_json_line(r) for r in others + ours)
        if text or (self.root / FAILURES_FILE).exists():
            write_text_atomic(self.root / FAILURES_FILE, text)


def _json_line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"


def _previous_videos(root: Path) -> dict[str, dict[str, Any]]:
    """Rows of an existing ``videos.parquet`` (empty when absent or unreadable)."""
    import pyarrow.parquet as pq

    path = catalog_dir(root) / "videos.parquet"
    if not path.exists():
        return {}
    try:
        return {row["video_id"]: row for row in pq.read_table(path).to_pylist()}
    except Exception as exc:  # a damaged table is rebuilt, not trusted
        log.warning("ignoring unreadable %s: %s", path, exc)
        return {}


def _row(outcome: Outcome, source: Path | None) -> dict[str, Any]:
    info = outcome.info
    status = {"ok": "ok", "skipped": "ok"}.get(outcome.status, outcome.status)
    row = {"video_id": outcome.video_id, "source": str(source) if source else None, "status": status}
    if info is not None and status == "ok":
        row.update(duration=info.duration, fps=info.fps, width=info.width, height=info.height, frames=info.frames)
    return row


def _videos_dir(cfg: PrepareConfig, default: Path | None) -> Path | None:
    if cfg.videos_dir is None:
        return default
    path = Path(cfg.videos_dir)
    if not path.is_dir():
        raise ConfigError(f"videos_dir {path}: no such folder")
    return path


def run_prepare(cfg: PrepareConfig) -> dict[str, Any]:
    """Run the stage; return the summary (also written to ``ROOT/prepare.summary.json``, or
    for a part of several, into its folder under ``ROOT/parts/prepare/``).

    Missing or failed videos are recorded and the rest goes on; with ``strict`` they
    raise :class:`StageError` after everything has been written. The run holds the root's
    write lock (a part: its own folder's, parts compress disjoint videos), so a second
    prepare on the same output exits at once instead of deleting this one's files.
    """
    index, count = resolve_part(cfg.part)
    folder = part_dir(Path(cfg.root) / PARTS, index, count) if count > 1 else Path(cfg.root)
    with output_lock(folder, STAGE):
        return _run_prepare(cfg)


def _run_prepare(cfg: PrepareConfig) -> dict[str, Any]:
    start = time.monotonic()
    index, count = resolve_part(cfg.part)
    if cfg.merge and cfg.skip_videos:
        raise ConfigError("merge: the parts' compressed videos are what is merged; drop --skip-videos")
    if count > 1 and (cfg.merge or cfg.skip_videos):
        raise ConfigError(f"part {cfg.part}: --part splits the compression; it goes with neither --merge "
                          "nor --skip-videos")
    dataset = get_dataset(cfg.dataset)
    root = Path(cfg.root)
    if cfg.merge:
        return _merge_parts(cfg, dataset.build(_request(cfg, root)), root, start)
    exe = None if cfg.skip_videos else ffmpeg_exe(cfg.compress.ffmpeg)
    videos_dir = _videos_dir(cfg, dataset.default_videos_dir(root))
    if exe is not None and videos_dir is None:
        raise ConfigError(f"{cfg.dataset}: --videos-dir is required to compress videos (or pass --skip-videos)")
    catalog = dataset.build(_request(cfg, root))
    known = {row["video_id"]: row["source"] for row in catalog.videos.select(["video_id", "source"]).to_pylist()}
    sources = locate_videos(known, videos_dir, dataset.file_stems, known)
    jobs = [Job(vid, sources[vid]) for vid in known if in_part(vid, index, count)]
    folder = part_dir(root / PARTS, index, count) if count > 1 else root
    outcomes = _compress(jobs, root, folder, cfg.compress, exe) if exe is not None else []
    summary = _summary(cfg, catalog, _counts(outcomes), ffmpeg_version(exe) if exe else "not run",
                       time.monotonic() - start)
    summary["part"] = f"{index}/{count}"  # "auto" resolved
    if count > 1:  # this part's rows go to its own folder; --merge writes the catalog
        rows = [_row(o, sources[o.video_id]) for o in outcomes]
        write_result(folder, {"part": f"{index}/{count}", "settings": _settings(cfg), "rows": rows,
                              "summary": summary})
    else:
        write_catalog(root, _merge_videos(catalog, root, outcomes, sources))
        save_resolved(cfg, catalog_dir(root))
        write_summary(root / "prepare.summary.json", summary)
    return _finish(cfg, summary, root)


def _finish(cfg: PrepareConfig, summary: dict[str, Any], root: Path) -> dict[str, Any]:
    bad = summary["failed"]
    if bad:
        log.warning("%d of %d videos missing or failed; see %s", bad, summary["processed"], root / FAILURES_FILE)
        if cfg.strict:
            raise StageError(f"prepare: {bad} video(s) missing or failed (--strict); see {root / FAILURES_FILE}")
    return summary


def _settings(cfg: PrepareConfig) -> dict[str, Any]:
    """The config without what parts and their merge may differ in (paths, speed, strictness)."""
    doc = {k: v for k, v in to_dict(cfg).items() if k not in _LOCAL_KEYS}
    doc["compress"] = {k: v for k, v in doc["compress"].items() if k not in _LOCAL_COMPRESS_KEYS}
    return doc


def _merge_parts(cfg: PrepareConfig, catalog: Catalog, root: Path, start: float) -> dict[str, Any]:
    """Catalog, failure log and summary from the complete set of parts, as one machine writes them."""
    import pyarrow as pa

    results = read_results(root / PARTS, STAGE)
    check_same(results, "settings", _settings(cfg), STAGE)
    rows = {row["video_id"]: row for _, result in results for row in result["rows"]}
    video_ids = catalog.videos.column("video_id").to_pylist()
    absent = [vid for vid in video_ids if vid not in rows]
    if absent:
        raise StageError(f"prepare --merge: no part processed video {absent[0]!r} ({len(absent)} in all): the "
                         "parts ran on other annotations; re-run them")
    schema = arrow_schema("videos")
    columns = {f.name: [rows[vid].get(f.name) for vid in video_ids] for f in schema}
    catalog = catalog.replace(videos=pa.Table.from_pydict(columns, schema=schema))
    failures = _PartFailureLog(root, STAGE)
    failures.processed.update(video_ids)
    failures.records = [r for folder, _ in results for r in read_failures(folder, STAGE)]
    write_catalog(root, catalog)
    failures.finalize()
    save_resolved(cfg, catalog_dir(root))
    parts = [result["summary"] for _, result in results]
    counts = {key: sum(p[key] for p in parts) for key in ("ok", "skipped", "failed", "missing", "processed")}
    summary = _summary(cfg, catalog, counts, parts[0]["versions"]["ffmpeg"], time.monotonic() - start)
    summary["parts"] = {"count": len(parts), "seconds": [p["seconds"] for p in parts]}
    write_summary(root / "prepare.summary.json", summary)
    remove_parts(root / PARTS)
    return _finish(cfg, summary, root)


def _request(cfg: PrepareConfig, root: Path) -> BuildRequest:
    return BuildRequest(
        root=root,
        annotations=Path(cfg.annotations) if cfg.annotations else None,
        annotations_url=cfg.annotations_url,
        captions=Path(cfg.captions) if cfg.captions else None,
        test_fraction=cfg.test_fraction,
        videos=cfg.videos,
        seed=cfg.seed,
    )


def _compress(jobs: list[Job], root: Path, log_root: Path, cfg: CompressConfig, exe: str) -> list[Outcome]:
    """Compress ``jobs`` into ``ROOT/compressed``, logging each failure under ``log_root`` as it
    happens; the log is finalized even when the run is interrupted, so what was learnt before
    a Ctrl-C is kept."""
    failures = _PartFailureLog(log_root, STAGE)
    try:
        return compress_videos(jobs, root / COMPRESSED, cfg, exe, on_outcome=lambda o: _record(failures, o))
    finally:
        failures.finalize()


def _record(failures: _PartFailureLog, outcome: Outcome) -> None:
    failures.processed.add(outcome.video_id)
    if outcome.status in ("failed", "missing"):
        extra = {"step": outcome.step}
        if outcome.stderr:
            extra["stderr"] = outcome.stderr
        failures.record(outcome.video_id, outcome.error or outcome.status, **extra)


def _merge_videos(catalog: Catalog, root: Path, outcomes: list[Outcome], sources: dict[str, Path | None]) -> Catalog:
    """The videos table: this run's rows for the videos it processed; for the others, the
    previous run's row if there is one (another part's work), else pending."""
    import pyarrow as pa

    previous = _previous_videos(root)
    done = {o.video_id: _row(o, sources[o.video_id]) for o in outcomes}
    rows = []
    for vid in catalog.videos.column("video_id").to_pylist():
        source = sources.get(vid)
        fresh = {"video_id": vid, "source": str(source) if source else None, "status": "pending"}
        rows.append(done.get(vid) or previous.get(vid) or fresh)
    schema = arrow_schema("videos")
    columns = {f.name: [r.get(f.name) for r in rows] for f in schema}
    return catalog.replace(videos=pa.Table.from_pydict(columns, schema=schema))


def _counts(outcomes: list[Outcome]) -> dict[str, int]:
    counts = {s: sum(o.status == s for o in outcomes) for s in ("ok", "skipped", "failed", "missing")}
    return {**counts, "failed": counts["failed"] + counts["missing"], "processed": len(outcomes)}


def _summary(cfg: PrepareConfig, catalog: Catalog, counts: dict[str, int], ffmpeg: str,
             seconds: float) -> dict[str, Any]:
    splits = collections.Counter(catalog.splits.column("split").to_pylist())
    expected = getattr(get_dataset(cfg.dataset), "splits", ())
    return {
        "stage": STAGE,
        "dataset": cfg.dataset,
        "part": cfg.part,
        "ok": counts["ok"],
        "skipped": counts["skipped"],
        "failed": counts["failed"],
        "missing": counts["missing"],
        "videos": catalog.videos.num_rows,
        "processed": counts["processed"],
        "captions": catalog.captions.num_rows,
        "splits": dict(sorted(splits.items())),
        # splits whose annotation files were not given: a later stage asking for one names it
        "missing_splits": [name for name in expected if name not in splits],
        "seconds": round(seconds, 3),
        "config": to_dict(cfg),
        "versions": {"tvrkit": __version__, "ffmpeg": ffmpeg},
    }
