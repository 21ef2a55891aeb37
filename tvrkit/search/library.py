"""Which files a video folder holds and what changed since the last index: pure planning.

Every regular, non-hidden file under the folder (recursively, symlinks followed, each folder
entered once) is a candidate: "a video" is whatever ffmpeg can read, so non-videos are tried
and recorded as failures rather than guessed from extensions. A file is known by its path relative to the
folder; its id is a hash of that path (stable across runs, safe in a URL, never a path),
and it counts as unchanged while its size and modification time are.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class SourceFile:
    """One file of the folder: id, path relative to the folder, absolute path, size, mtime."""

    video_id: str
    relpath: str
    path: Path
    size: int
    mtime_ns: int


def video_id(relpath: str) -> str:
    """The id of the file at ``relpath`` (POSIX separators): 16 hex digits of its sha256."""
    return hashlib.sha256(relpath.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def printable(relpath: str) -> str:
    """``relpath`` as UTF-8 text, bytes that are not UTF-8 shown as ``\\xNN`` (for logs and records)."""
    return relpath.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def scan_folder(folder: str | os.PathLike[str], exclude: Iterable[str | os.PathLike[str]] = (),
                on_skip: Callable[[str, str], None] | None = None) -> list[SourceFile]:
    """Every candidate file under ``folder``, sorted by relative path (a stable library order).

    Paths in ``exclude`` (an index's own output inside the folder) are not entered. A folder
    reached again through a symlink is entered once (a symlink loop would never end), and a
    name that is not UTF-8 cannot be stored or passed on: it is handed to ``on_skip(printable
    relative path, reason)`` and left out, the rest goes on.
    """
    root = Path(folder)
    skip = on_skip or (lambda rel, why: None)
    excluded = {os.path.realpath(p) for p in exclude}
    seen_dirs: dict[tuple[int, int], str] = {}
    found: list[SourceFile] = []
    for directory, subdirs, files in os.walk(root, followlinks=True):
        try:
            st = os.stat(directory)
        except OSError:  # removed while scanning
            subdirs[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen_dirs:  # reached again through a symlink: a loop or a second way in
            log.warning("%s: already scanned as %s (symlink loop?); not entered again", printable(directory),
                        printable(seen_dirs[st.st_dev, st.st_ino]))
            subdirs[:] = []
            continue
        seen_dirs[st.st_dev, st.st_ino] = directory
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".")
                            and os.path.realpath(os.path.join(directory, d)) not in excluded)
        for name in files:
            path = Path(directory) / name
            if name.startswith(".") or os.path.realpath(path) in excluded:
                continue
            try:
                st = path.stat()
            except OSError:  # a dangling symlink or a file removed while scanning
                continue
            if not os.path.isfile(path):
                continue
            rel = path.relative_to(root).as_posix()
            try:
                rel.encode("utf-8")
            except UnicodeEncodeError:
                skip(printable(rel), "the file name is not valid UTF-8; rename it to index it")
                continue
            found.append(SourceFile(video_id(rel), rel, path.resolve(), st.st_size, st.st_mtime_ns))
    return sorted(found, key=lambda f: f.relpath)


@dataclasses.dataclass(frozen=True)
class Plan:
    """What a re-index does: embed ``todo`` (new or changed), keep ``unchanged``, drop ``deleted``."""

    todo: list[SourceFile]
    unchanged: list[SourceFile]
    deleted: list[str]


def plan_update(scanned: Iterable[SourceFile], previous: Mapping[str, Mapping[str, Any]]) -> Plan:
    """Compare the folder with the previous index's rows (``video_id`` -> row with ``size``
    and ``mtime_ns``): unchanged files keep their embedding, the rest is (re)done."""
    todo, unchanged = [], []
    seen = set()
    for f in scanned:
        seen.add(f.video_id)
        row = previous.get(f.video_id)
        if row is not None and row.get("size") == f.size and row.get("mtime_ns") == f.mtime_ns:
            unchanged.append(f)
        else:
            todo.append(f)
    deleted = sorted(vid for vid in previous if vid not in seen)
    return Plan(todo, unchanged, deleted)
