"""Splitting a stage's videos across machines: part ``I/N``, or ``auto`` from a Slurm job array.

Each part handles a deterministic share of the videos (a stable hash of the id, the same on
every machine), writes its per-video outputs under their own names and its results into its
own folder ``BASE/part-I-of-N/`` (``result.json`` written last marks it complete), and never
touches a file another part writes: nothing shared needs a lock, which network filesystems
do not reliably provide. A merge step then reads the complete set of parts and writes what
one machine would have written.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tvrkit.datasets.parsing import stable_fraction
from tvrkit.errors import ConfigError, StageError
from tvrkit.fsutil import write_json_atomic

AUTO = "auto"
RESULT = "result.json"
_DIR_RE = re.compile(r"^part-(\d+)-of-(\d+)$")
_SLURM = ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT")


def parse_part(part: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)`` with 1 <= I <= N, else a :class:`ConfigError`."""
    index, _, count = part.partition("/")
    if not (index.isdigit() and count.isdigit()) or not 1 <= int(index) <= int(count):
        raise ConfigError(f"part: {part!r} must be I/N with 1 <= I <= N (e.g. 2/8), or auto")
    return int(index), int(count)


def _env_int(environ: Mapping[str, str], name: str) -> int | None:
    value = environ.get(name)
    if value is None or value == "":
        return None
    if not value.strip().lstrip("-").isdigit():
        raise ConfigError(f"part auto: {name}={value!r} is not an integer")
    return int(value)


def slurm_part(environ: Mapping[str, str]) -> tuple[int, int]:
    """``(I, N)`` of this Slurm array task: ``I = (ID - MIN) / STEP + 1`` of ``N = COUNT``.

    ``SLURM_ARRAY_TASK_MIN`` (default 0) and ``SLURM_ARRAY_TASK_STEP`` (default 1) are
    honoured, so ``--array=0-7``, ``--array=1-8`` and ``--array=0-14:2`` all give parts 1..8.
    Lists (``--array=1,5,9``) and partial arrays cannot tell a task which share is its own
    and are refused, as are missing or inconsistent variables."""
    task, count = (_env_int(environ, name) for name in _SLURM)
    if task is None or count is None:
        missing = [name for name, value in zip(_SLURM, (task, count), strict=True) if value is None]
        raise ConfigError(f"part auto: {' and '.join(missing)} not set; run it as a Slurm array task "
                          "(sbatch --array=0-N-1) or give --part I/N")
    low = _env_int(environ, "SLURM_ARRAY_TASK_MIN")
    high = _env_int(environ, "SLURM_ARRAY_TASK_MAX")
    step = _env_int(environ, "SLURM_ARRAY_TASK_STEP") or 1
    low = 0 if low is None else low
    where = (f"SLURM_ARRAY_TASK_ID={task}, SLURM_ARRAY_TASK_MIN={low}, SLURM_ARRAY_TASK_STEP={step}, "
             f"SLURM_ARRAY_TASK_COUNT={count}")
    if count < 1 or step < 1:
        raise ConfigError(f"part auto: {where}: the count and step must be positive")
    offset, rest = divmod(task - low, step)
    if rest or not 0 <= offset < count:
        raise ConfigError(f"part auto: {where}: the task is not one of the {count} array indices "
                          f"{low}, {low + step}, ..., {low + (count - 1) * step}; use --array=A-B[:S] or --part I/N")
    if high is not None and high != low + (count - 1) * step:
        raise ConfigError(f"part auto: {where}, SLURM_ARRAY_TASK_MAX={high}: not a full range A-B[:S] (a list "
                          "or a partial array?); give --part I/N")
    return offset + 1, count


def resolve_part(part: str, environ: Mapping[str, str] | None = None) -> tuple[int, int]:
    """``(I, N)`` for ``"I/N"``, or for ``"auto"`` from the Slurm array variables."""
    if part == AUTO:
        return slurm_part(os.environ if environ is None else environ)
    return parse_part(part)


def in_part(video_id: str, index: int, count: int) -> bool:
    """Whether ``video_id`` belongs to share ``index`` of ``count`` (stable across machines)."""
    return int(stable_fraction(video_id) * count) == index - 1


def part_dir(base: str | os.PathLike[str], index: int, count: int) -> Path:
    """The folder part ``index`` of ``count`` writes its results into."""
    return Path(base) / f"part-{index}-of-{count}"


def write_result(folder: Path, result: dict[str, Any]) -> None:
    """Write a part's result last: its presence marks the part complete."""
    write_json_atomic(folder / RESULT, result)


def read_results(base: str | os.PathLike[str], what: str) -> list[tuple[Path, dict[str, Any]]]:
    """``(folder, result)`` of parts 1..N under ``base``, all of one N and all complete, else
    a :class:`StageError` saying which parts are missing or which stale set to remove."""
    base = Path(base)
    found = sorted((int(m[2]), int(m[1])) for m in (_DIR_RE.match(p.name) for p in base.glob("part-*")) if m)
    if not found:
        raise StageError(f"{what} --merge: no parts under {base}; run the parts first (--part I/N or auto)")
    counts = sorted({n for n, _ in found})
    if len(counts) > 1:
        raise StageError(f"{what} --merge: {base} holds parts of {' and of '.join(map(str, counts))}; "
                         "remove the folders of the split you abandoned")
    count = counts[0]
    folders = [part_dir(base, i, count) for i in range(1, count + 1)]
    missing = [i for i, f in enumerate(folders, 1) if not (f / RESULT).is_file()]
    if missing:
        raise StageError(f"{what} --merge: part(s) {', '.join(map(str, missing))} of {count} have not finished "
                         f"(no {RESULT} under {base}); run them (again), then merge")
    return [(f, json.loads((f / RESULT).read_text(encoding="utf-8"))) for f in folders]


def check_same(results: list[tuple[Path, dict[str, Any]]], key: str, expected: Any, what: str) -> None:
    """Every part's ``result[key]`` must equal ``expected`` (the merge's own settings)."""
    for folder, result in results:
        if result.get(key) != expected:
            raise StageError(f"{what} --merge: {folder.name} ran with {key} {result.get(key)!r}, the merge with "
                             f"{expected!r}; merge with the parts' settings or re-run the parts")


def remove_parts(base: str | os.PathLike[str]) -> None:
    """Delete the merged parts' folders (their content now lives in the merged outputs), and
    the folder above them when nothing else is left there."""
    shutil.rmtree(base, ignore_errors=True)
    with contextlib.suppress(OSError):
        Path(base).parent.rmdir()
