"""``tvrkit shard --part I/N`` and ``--merge``: the staging phase split across machines.

A part encodes its share of the videos into fragments under the shared staging folder (one
file per video, so parts never write the same file) and records what it staged, failures
included, in ``ROOT/shards/.parts/{format}/part-I-of-N/result.json``. The merge reads the
complete set and hands the packing phase the same staged videos, in the same order, that
one machine's staging would have produced: shards and manifests come out byte-identical.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tvrkit.cluster import check_same, read_results, write_result
from tvrkit.errors import StageError
from tvrkit.runlog import FailureLog
from tvrkit.shards.staging import EncodeJob, Staged

STAGE = "shard"


def parts_base(root: str | os.PathLike[str], fmt: str) -> Path:
    """Where the parts of one format's run keep their results."""
    return Path(root) / "shards" / ".parts" / fmt


def write_part(folder: Path, staged: Iterable[Staged], params: dict[str, Any], part: str) -> dict[str, int]:
    """Drain ``staged`` (this part's encoding), logging failures under ``folder`` as they
    happen, then write the part's result; return its ok / failed counts."""
    rows = []
    with FailureLog(folder, STAGE) as failures:
        for result in staged:
            rows.append({k: v for k, v in dataclasses.asdict(result).items() if k != "fragment"})
            if not result.ok:
                failures.record(result.video_id, result.error)
    counts = {"ok": sum(not r["error"] for r in rows), "failed": sum(bool(r["error"]) for r in rows)}
    write_result(folder, {"part": part, "params": params, "staged": rows, "counts": counts})
    return counts


def merged_staged(base: Path, params: dict[str, Any], jobs: list[EncodeJob]) -> list[Staged]:
    """What staging ``jobs`` gave, from every part's result, in job order, each fragment
    checked on disk."""
    results = read_results(base, "shard")
    check_same(results, "params", params, "shard")
    rows = {row["video_id"]: (folder, row) for folder, result in results for row in result["staged"]}
    absent = [job.video_id for job in jobs if job.video_id not in rows]
    if absent:
        raise StageError(f"shard --merge: no part staged video {absent[0]!r} ({len(absent)} in all): the parts ran "
                         "on another catalog or other splits; re-run them")
    staged = []
    for job in jobs:
        folder, row = rows[job.video_id]
        item = Staged(fragment=job.fragment, **row)
        if item.ok and not (os.path.isfile(item.fragment) and os.path.getsize(item.fragment) == item.bytes):
            raise StageError(f"shard --merge: {folder.name} staged {job.video_id!r} but its fragment {job.fragment} is "
                             "missing or changed (another staging folder or a cleaned one?); re-run that part")
        staged.append(item)
    return staged
