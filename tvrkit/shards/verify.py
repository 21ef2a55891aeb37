"""``run_verify``: check shards against their manifests, so silent disk or copy damage is
found before it skews a training run.

Per split: the manifest is valid; every shard exists with the recorded size and sha256;
its entries hold exactly the recorded videos, each with frames ``0..n-1`` matching its
meta and the recorded counts; and, unless ``quick``, every frame decodes as a JPEG.
"""

from __future__ import annotations

import collections
import json
import logging
from pathlib import Path
from typing import Any

from tvrkit.errors import ConfigError, DataError
from tvrkit.fsutil import sha256_file
from tvrkit.shards.config import VerifyConfig
from tvrkit.shards.formats.base import ShardFormat, get_format
from tvrkit.shards.manifest import MANIFEST, find_manifests, read_manifest

log = logging.getLogger(__name__)


def _check_contents(fmt: ShardFormat, path: Path, record: dict[str, Any], decode: bool) -> list[dict[str, str]]:
    """Problems inside one shard, naming the video where one is to blame."""
    from tvrkit.shards.frames import decode_jpeg

    frames: dict[str, list[int]] = collections.defaultdict(list)
    metas: dict[str, dict[str, Any]] = {}
    problems = []
    try:
        for entry in fmt.entries(path, with_frames=decode):
            if entry.frame is None:
                try:
                    metas[entry.video_id] = json.loads(entry.data or b"")
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    problems.append({"video_id": entry.video_id, "error": f"unreadable meta: {exc}"})
                continue
            frames[entry.video_id].append(entry.frame)
            if decode:
                try:
                    decode_jpeg(entry.data or b"")
                except Exception as exc:  # Pillow raises several types for bad JPEG data
                    problems.append({"video_id": entry.video_id,
                                     "error": f"frame {entry.frame} does not decode: {exc}"})
    except DataError as exc:
        return problems + [{"error": str(exc)}]
    seen = list(dict.fromkeys(list(frames) + list(metas)))
    if sorted(seen) != sorted(record["video_ids"]):
        missing = sorted(set(record["video_ids"]) - set(seen))
        extra = sorted(set(seen) - set(record["video_ids"]))
        problems.append({"error": f"videos differ from the manifest (missing {missing[:5]}, unexpected {extra[:5]})"})
    for vid in seen:
        want = metas.get(vid, {}).get("frames")
        if sorted(frames[vid]) != list(range(len(frames[vid]))) or want != len(frames[vid]):
            problems.append({"video_id": vid, "error": f"has {len(frames[vid])} frames, meta says {want}"})
    total = sum(len(f) for f in frames.values())
    if total != record["frames"]:
        problems.append({"error": f"{total} frames, manifest says {record['frames']}"})
    return problems


def verify_split(split_dir: Path, quick: bool = False) -> tuple[int, list[dict[str, str]]]:
    """``(shards checked, problems)`` of one split directory; each problem is ``{"shard",
    "error"}`` plus ``video_id`` when one video is to blame."""
    try:
        manifest = read_manifest(split_dir)
    except DataError as exc:
        return 0, [{"shard": str(split_dir), "error": str(exc)}]
    fmt = get_format(manifest["format"])
    problems = []
    for record in manifest["shards"]:
        path = split_dir / record["file"]
        shard_problems = []
        if not path.is_file():
            problems.append({"shard": str(path), "error": "missing"})
            continue
        size = path.stat().st_size
        digest_ok = size == record["bytes"] and sha256_file(path) == record["sha256"]
        if not digest_ok:
            shard_problems.append({"error": f"sha256/size mismatch ({size} bytes, manifest {record['bytes']})"})
        if digest_ok or fmt.scan_damaged:
            shard_problems += _check_contents(fmt, path, record, decode=not quick)
        problems += [{"shard": str(path), **p} for p in shard_problems]
        log.debug("%s: %s", path, "ok" if not shard_problems else f"{len(shard_problems)} problem(s)")
    return len(manifest["shards"]), problems


def _planned_splits(summary: dict[str, Any], catalog: Any) -> set[str]:
    """The splits a format's shard run was asked for (every catalog split when it named none)."""
    return set((summary.get("config") or {}).get("splits") or catalog.split_names()) | set(summary.get("splits", {}))


def check_complete(root: str | Path, formats: tuple[str, ...] = (),
                   splits: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """What is missing against the catalog, so deleted files cannot pass as a clean set: per format
    with a shard summary, every split that run was asked for has its manifest, and every video the
    catalog marks ok in a split is in its manifest (stored, or listed as failed with a reason)."""
    from tvrkit.catalog import catalog_dir, read_catalog

    problems: list[dict[str, str]] = []
    if not (catalog_dir(root) / "videos.parquet").exists():
        log.warning("%s has no catalog: shards checked, completeness not", root)
        return problems
    catalog = None
    for summary_path in sorted((Path(root) / "shards").glob("*/summary.json")):
        fmt = summary_path.parent.name
        if formats and fmt not in formats:
            continue
        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
            catalog = catalog or read_catalog(root)
        except (OSError, ValueError, DataError) as exc:
            problems.append({"shard": str(summary_path), "error": f"cannot check completeness: {exc}"})
            continue
        rows = catalog.video_rows()
        for split in sorted(_planned_splits(summary, catalog) & set(catalog.split_names())):
            if splits and split not in splits:
                continue
            out = summary_path.parent / split
            if not (out / MANIFEST).is_file():
                problems.append({"shard": str(out), "error": f"split {split} is missing: {summary_path} lists it but "
                                 f"{out / MANIFEST} is absent (re-run tvrkit shard)"})
                continue
            try:
                manifest = read_manifest(out)
            except DataError:
                continue  # a damaged manifest is reported by verify_split
            listed = {v for s in manifest["shards"] for v in s["video_ids"]}
            listed |= {f["video_id"] for f in manifest["failed"]}
            absent = [v for v in catalog.split_video_ids(split) if rows[v]["status"] == "ok" and v not in listed]
            if absent:
                problems.append({"shard": str(out), "error": f"{len(absent)} video(s) the catalog marks ok are not in "
                                 f"the manifest, e.g. {absent[:5]} (re-run tvrkit shard)"})
    return problems


def verify_url(cfg: VerifyConfig) -> dict[str, Any]:
    """:func:`run_verify` of a URL root (WebDataset shards only): its catalog and manifests are
    fetched, then each split's shards, as they are at the URL, into a temporary directory that
    holds one split at a time; problems name the URLs."""
    import shutil
    import tempfile

    from tvrkit.shards.remote import Retry, join, mirror_root, read_url

    if set(cfg.formats) - {"wds"}:
        raise ConfigError(f"--format: a URL root ({cfg.root}) holds WebDataset shards only")
    splits, shards, problems = [], 0, []
    with tempfile.TemporaryDirectory(prefix="tvrkit-verify-") as tmp:
        local = mirror_root(cfg.root, list(cfg.splits) or None, "wds", Retry(), into=Path(tmp))
        for split_dir in find_manifests(local, ("wds",), cfg.splits):
            rel = split_dir.relative_to(local).as_posix()
            for record in read_manifest(split_dir)["shards"]:
                try:
                    (split_dir / record["file"]).write_bytes(read_url(join(cfg.root, rel, record["file"])))
                except FileNotFoundError:
                    pass  # verify_split reports it missing
            checked, found = verify_split(split_dir, cfg.quick)
            splits, shards = splits + [join(cfg.root, rel)], shards + checked
            problems += [{**p, "shard": p["shard"].replace(tmp, cfg.root.rstrip("/"), 1)} for p in found]
            shutil.rmtree(split_dir)
    if not splits:
        raise DataError(f"no WebDataset splits at {cfg.root} match split(s) {list(cfg.splits) or 'any'}")
    return {"ok": not problems, "splits": splits, "shards": shards, "problems": problems}


def run_verify(cfg: VerifyConfig) -> dict[str, Any]:
    """Verify every selected split and the set's completeness against the catalog; return
    ``{"ok", "splits", "shards", "problems"}``. A URL root: :func:`verify_url`."""
    from tvrkit.shards.remote import is_url

    if is_url(cfg.root):
        return verify_url(cfg)
    dirs = find_manifests(cfg.root, cfg.formats, cfg.splits)
    problems = check_complete(cfg.root, cfg.formats, cfg.splits)
    if not dirs and not problems:
        raise DataError(f"no sharded splits under {Path(cfg.root) / 'shards'} match "
                        f"format(s) {list(cfg.formats) or 'any'} and split(s) {list(cfg.splits) or 'any'}")
    shards = 0
    for split_dir in dirs:
        checked, found = verify_split(split_dir, cfg.quick)
        shards += checked
        problems += found
    return {"ok": not problems, "splits": [str(d) for d in dirs], "shards": shards, "problems": problems}


def describe_problem(problem: dict[str, str]) -> str:
    """One line naming the bad shard (and video) for the user."""
    video = f" video {problem['video_id']}:" if "video_id" in problem else ""
    return f"{problem['shard']}:{video} {problem['error']}"
