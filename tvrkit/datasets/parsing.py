"""Shared pieces of every annotation parser: readers that turn a malformed file into a
:class:`DataError` naming the file and the problem, and :class:`CatalogBuilder`, which
collects videos, captions and split rows and enforces the id rules once for all datasets.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from tvrkit.catalog import Catalog
from tvrkit.errors import DataError

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".ogv")

log = logging.getLogger(__name__)
LINE = "_line"  # key of a row's line number in read_table's rows


def find_annotation(folder: Path, name: str, required: bool = True) -> Path | None:
    """The file called ``name`` anywhere under ``folder`` (archives often nest a folder);
    the shallowest match wins. Missing and ``required`` is a :class:`DataError`."""
    if (folder / name).is_file():
        return folder / name
    matches = sorted(folder.rglob(name), key=lambda p: (len(p.parts), str(p)))
    matches = [p for p in matches if p.is_file()]
    if matches:
        return matches[0]
    if required:
        raise DataError(f"annotation file {name} not found under {folder}")
    return None


def load_json(path: Path, kind: type = dict) -> Any:
    """Parse JSON whose top level must be ``kind`` (dict or list)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a readable JSON file: {exc}") from exc
    if not isinstance(data, kind):
        raise DataError(f"{path}: expected a JSON {kind.__name__} at the top level, got {type(data).__name__}")
    return data


def field(record: Any, key: str, path: Path, where: str, kind: type | tuple[type, ...] = str) -> Any:
    """``record[key]``, which must exist and be of ``kind``; else a :class:`DataError`
    naming the file and the record (``where``)."""
    if not isinstance(record, dict) or key not in record:
        raise DataError(f"{path}: {where} has no {key!r} field")
    value = record[key]
    if not isinstance(value, kind):
        raise DataError(f"{path}: {where}: {key!r} should be {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def read_lines(path: Path) -> list[str]:
    """Non-empty stripped lines (video id lists)."""
    try:
        return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read: {exc}") from exc


def read_table(path: Path, columns: Sequence[str], delimiter: str = ",", header: bool = True) -> list[dict[str, str]]:
    """Rows of a CSV/TSV as dicts, each with the line its record starts on under ``"_line"``
    (a quoted cell may span lines). With ``header`` the file must name ``columns`` in its first
    line; without, every row must have exactly ``len(columns)`` cells. A quote never closed is an
    error naming the line it opened on."""
    rows: list[tuple[int, list[str]]] = []
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL if header else csv.QUOTE_NONE,
                                strict=True)
            while True:
                lineno = reader.line_num + 1
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    raise DataError(f"{path}: line {lineno}: cannot read as a table: {exc}") from exc
                if row:
                    rows.append((lineno, row))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read as a table: {exc}") from exc
    if header:
        if not rows:
            raise DataError(f"{path}: empty file, expected a header with {', '.join(columns)}")
        names = [c.strip() for c in rows[0][1]]
        missing = [c for c in columns if c not in names]
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(missing)}; the header has {', '.join(names)}")
        rows = rows[1:]
    else:
        names = list(columns)
    out = []
    for lineno, row in rows:
        if len(row) != len(names):
            raise DataError(f"{path}: line {lineno} has {len(row)} fields, expected {len(names)}")
        out.append({**dict(zip(names, row, strict=True)), LINE: lineno})
    return out


@dataclasses.dataclass(frozen=True)
class Moment:
    """One caption as an annotation file gives it (``start``/``end`` in seconds, if any)."""

    video_id: str
    caption: str
    start: float | None = None
    end: float | None = None


class CatalogBuilder:
    """Accumulates catalog rows; caption ids are ``{video_id}#{key}``."""

    def __init__(self, source: Path | str) -> None:
        self._source = str(source)  # named in errors
        self._videos: dict[str, dict[str, Any]] = {}
        self._captions: dict[str, dict[str, Any]] = {}
        self._by_video: dict[str, list[str]] = {}
        self._splits: list[dict[str, str]] = []
        self._split_keys: set[tuple[str, str]] = set()

    def video(self, video_id: str, source: str | None = None) -> str:
        """Register a video (idempotent); ids must be usable as file names."""
        video_id = video_id.strip()
        if not video_id or "/" in video_id or "\\" in video_id or video_id in (".", ".."):
            raise DataError(f"{self._source}: invalid video id {video_id!r} (empty or a path)")
        if video_id not in self._videos:
            self._videos[video_id] = {"video_id": video_id, "source": source}
            self._by_video[video_id] = []
        return video_id

    def caption(self, video_id: str, key: str, text: str, start: float | None = None, end: float | None = None) -> str:
        """Add a caption of ``video_id`` (registering the video); return its caption id."""
        video_id = self.video(video_id)
        caption_id = f"{video_id}#{key}"
        if caption_id in self._captions:
            raise DataError(f"{self._source}: duplicate caption {caption_id!r}")
        self._captions[caption_id] = {"caption_id": caption_id, "video_id": video_id, "caption": text.strip(),
                                      "start": start, "end": end}
        self._by_video[video_id].append(caption_id)
        return caption_id

    def captions_of(self, video_id: str) -> list[str]:
        """Caption ids of ``video_id`` in the order they were added."""
        return list(self._by_video.get(video_id, []))

    def has_video(self, video_id: str) -> bool:
        return video_id in self._videos

    def split(self, name: str, video_id: str, caption_ids: Iterable[str]) -> None:
        """Add split rows pairing ``video_id`` with each of ``caption_ids`` (duplicates dropped)."""
        for cid in caption_ids:
            if (name, cid) not in self._split_keys:
                self._split_keys.add((name, cid))
                self._splits.append({"split": name, "video_id": video_id, "caption_id": cid})

    def split_videos(self, name: str, video_ids: Iterable[str], what: str = "split list") -> None:
        """Add every caption of each video to split ``name``; an unknown video is an error."""
        for vid in video_ids:
            if vid not in self._videos:
                raise DataError(f"{self._source}: {what} of split {name!r} names video {vid!r}, which has no captions")
            self.split(name, vid, self._by_video[vid])

    def paragraph(self, video_id: str, caption_ids: Sequence[str], key: str = "paragraph") -> str:
        """A caption joining ``caption_ids`` in time order (start, then end, then given
        order), spanning the earliest start to the latest end: paragraph-to-video retrieval."""
        rows = [self._captions[c] for c in caption_ids]
        order = sorted(range(len(rows)), key=lambda i: (rows[i]["start"] or 0.0, rows[i]["end"] or 0.0, i))
        text = " ".join(rows[i]["caption"] for i in order)
        starts = [r["start"] for r in rows if r["start"] is not None]
        ends = [r["end"] for r in rows if r["end"] is not None]
        return self.caption(video_id, key, text, min(starts) if starts else None, max(ends) if ends else None)

    def add_captions(self, moments: Iterable[Moment]) -> dict[str, list[str]]:
        """Add captions (keys numbered per video); return ``video_id -> new caption ids``."""
        added: dict[str, list[str]] = {}
        for m in moments:
            key = str(len(self.captions_of(m.video_id)) if self.has_video(m.video_id) else 0)
            added.setdefault(m.video_id, []).append(self.caption(m.video_id, key, m.caption, m.start, m.end))
        return added

    def add_split(self, name: str, moments: Iterable[Moment], paragraph: bool = False) -> None:
        """Add the captions of one split's annotation file and the split rows: every caption,
        or with ``paragraph`` one caption per video joining its captions in time order."""
        for vid, caption_ids in self.add_captions(moments).items():
            self.split(name, vid, [self.paragraph(vid, caption_ids)] if paragraph else caption_ids)

    def build(self) -> Catalog:
        """The catalog (checked: ids unique, splits pair captions with their videos)."""
        if not self._captions:
            raise DataError(f"{self._source}: no captions found")
        catalog = Catalog.from_records(list(self._videos.values()), list(self._captions.values()), self._splits)
        catalog.check()
        return catalog


def catalog_from_files(folder: Path, files: dict[str, str], moments: Callable[[Path], Iterable[Moment]],
                       paragraph: bool = False) -> Catalog:
    """The catalog of a dataset with one annotation file per split (``split -> file name``),
    each read into moments by ``moments``. A subset of the files builds the splits it has (the
    test file alone is enough to evaluate a released checkpoint); the others are named in a
    warning, in prepare's summary (``missing_splits``) and by any later stage that asks for
    them. No file at all is a :class:`DataError` naming every file looked for."""
    builder = CatalogBuilder(folder)
    found = {split: find_annotation(folder, name, required=False) for split, name in files.items()}
    missing = [split for split, path in found.items() if path is None]
    if len(missing) == len(files):
        raise DataError(f"none of the annotation files {', '.join(files.values())} found under {folder}")
    if missing:
        log.warning("annotations under %s: no %s, so split(s) %s are not built", folder,
                    ", ".join(files[s] for s in missing), ", ".join(missing))
    for split, path in found.items():
        if path is not None:
            builder.add_split(split, moments(path), paragraph=paragraph)
    return builder.build()


def stable_fraction(key: str) -> float:
    """A number in [0, 1) fixed by ``key`` alone (same on every machine and Python run,
    unlike ``hash()``): assigns videos to test sets and to ``--part`` shares."""
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:13], 16) / 16**13
