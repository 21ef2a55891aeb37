"""The one mechanism every dataset shares: where its annotations come from and how they
become a catalog. A dataset module declares its :class:`Source` list and a parser; the
downloading, caching, user overrides and extraction happen here, once.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from tvrkit.catalog import Catalog
from tvrkit.datasets.download import download, extract_archive, is_archive
from tvrkit.errors import ConfigError

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Source:
    """A public annotation file: its URL, the name it is saved under in ``ROOT/raw/`` and
    its sha256 when known (recorded in ``raw/NAME.sha256`` either way)."""

    url: str
    filename: str
    sha256: str | None = None


@dataclasses.dataclass(frozen=True)
class BuildRequest:
    """What a dataset may need to build its catalog (from ``PrepareConfig``)."""

    root: Path
    annotations: Path | None = None
    annotations_url: str | None = None
    captions: Path | None = None
    test_fraction: float = 0.0
    videos: int = 0
    seed: int = 0


class Dataset(Protocol):
    """What ``tvrkit prepare`` needs from a dataset."""

    name: str

    def build(self, request: BuildRequest) -> Catalog:
        """Produce the catalog (videos with ``source`` when the dataset knows it)."""
        ...

    def file_stems(self, video_id: str) -> tuple[str, ...]:
        """File names (without extension) a video of this id may be stored under."""
        ...

    def default_videos_dir(self, root: Path) -> Path | None:
        """Where the raw videos are when ``--videos-dir`` is not given (None: required)."""
        ...


def _identity(video_id: str) -> tuple[str, ...]:
    return (video_id,)


@dataclasses.dataclass(frozen=True)
class AnnotatedDataset:
    """A dataset whose catalog is parsed from annotation files (every public dataset).

    ``parse`` receives a folder holding the annotation files (possibly nested) and returns
    the catalog; ``stems`` maps a video id to the file names its video may have; ``splits``
    lets prepare name the splits a partial set of annotation files did not build.
    """

    name: str
    sources: tuple[Source, ...]
    parse: Callable[[Path], Catalog]
    stems: Callable[[str], tuple[str, ...]] = _identity
    note: str = ""  # said when annotations must be supplied by hand
    splits: tuple[str, ...] = ()  # the splits a complete set of annotation files builds

    def build(self, request: BuildRequest) -> Catalog:
        return self.parse(fetch_annotations(self, request))

    def file_stems(self, video_id: str) -> tuple[str, ...]:
        return self.stems(video_id)

    def default_videos_dir(self, root: Path) -> Path | None:
        return None


def _filename_of(url: str) -> str:
    name = Path(urlparse(url).path).name
    if not name:
        raise ConfigError(f"--annotations-url {url!r} does not end in a file name")
    return name


def fetch_annotations(dataset: AnnotatedDataset, request: BuildRequest) -> Path:
    """A folder with ``dataset``'s annotation files: the user's folder, the user's archive
    or file unpacked, an overriding URL, or the dataset's own sources, downloaded to
    ``ROOT/raw/`` (archives unpacked into ``ROOT/raw/{name}/``)."""
    raw = request.root / "raw"
    if request.annotations is not None:
        path = request.annotations
        if path.is_dir():
            return path
        if not path.is_file():
            raise ConfigError(f"--annotations {path}: no such file or folder")
        return _unpack([path], raw / dataset.name)
    if request.annotations_url is not None:
        sources: tuple[Source, ...] = (Source(request.annotations_url, _filename_of(request.annotations_url)),)
    elif dataset.sources:
        sources = dataset.sources
    else:
        raise ConfigError(f"{dataset.name}: no public annotation source; {dataset.note} "
                          "Pass --annotations PATH (a folder or archive).")
    files = []
    for src in sources:
        log.info("annotations: %s -> %s", src.url, raw / src.filename)
        files.append(download(src.url, raw / src.filename, sha256=src.sha256))
    return _unpack(files, raw / dataset.name)


def _unpack(files: list[Path], target: Path) -> Path:
    """The folder the parser searches: one archive is extracted into ``target`` (replaced
    as a whole, so nothing stale from an earlier archive remains); plain files are used
    where they are (downloads all land in ``ROOT/raw``)."""
    if len(files) == 1 and is_archive(files[0]):
        return extract_archive(files[0], target)
    if any(is_archive(f) for f in files) or len({f.parent for f in files}) != 1:
        raise ValueError(f"annotation sources must be one archive or plain files in one folder: {files}")
    return files[0].parent


@dataclasses.dataclass(frozen=True)
class GeneratedDataset:
    """A dataset generated on the spot (the synthetic one): ``generate`` writes the raw
    videos under ``ROOT/{videos_subdir}`` and returns a catalog with their sources."""

    name: str
    generate: Callable[[BuildRequest], Catalog]
    videos_subdir: str

    def build(self, request: BuildRequest) -> Catalog:
        return self.generate(request)

    def file_stems(self, video_id: str) -> tuple[str, ...]:
        return (video_id,)

    def default_videos_dir(self, root: Path) -> Path | None:
        return root / self.videos_subdir
