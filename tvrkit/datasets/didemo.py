"""DiDeMo (10,464 Flickr videos with localized moment descriptions) for paragraph-to-video
retrieval: each video's descriptions joined in time order form one query.

Annotations: ``{train,val,test}_data.json`` from LisaAnne/LocalizingMoments, lists of
``{"video", "description", "times"}``; ``times`` holds each annotator's ``[start, end]``
5-second segment indices (end inclusive), averaged into seconds for the moment caption.
Splits ``train`` / ``val`` / ``test`` use the paragraphs. The released val and test files hold
4,180 moments over 1,094 file names and 4,021 over 1,037, which are 1,065 and 1,004 videos: some
videos are listed under two container extensions (same Flickr id, same download link), and
their moments are one video's (see :func:`flickr_video`; the counts are checked by the
real-file tests). 1,065 / 1,004 are the numbers the CLIP4Clip-era papers report. Videos that
cannot be found are marked missing by prepare and counted in eval's metrics.json. A subset of
the three files builds the splits it has (the test file alone evaluates a released checkpoint).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tvrkit.catalog import Catalog
from tvrkit.datasets.base import AnnotatedDataset, Source
from tvrkit.datasets.parsing import Moment, catalog_from_files, field, load_json
from tvrkit.errors import DataError

SPLITS = {"train": "train_data.json", "val": "val_data.json", "test": "test_data.json"}
SEGMENT = 5.0  # seconds per DiDeMo segment
BASE_URL = "https://raw.githubusercontent.com/LisaAnne/LocalizingMoments/master/data/"


def flickr_video(name: str) -> str:
    """The video a DiDeMo file name stands for: its name without the container extension,
    whatever it is (``.mov``, ``.3g2``, ``.m2ts``, a bare ``.``). The files list 33 test and 29
    val videos under two containers (same Flickr id and download link, different moments), so
    both names are one video, as the papers count them."""
    return name.rsplit(".", 1)[0] if "." in name else name


def _moments(path: Path) -> Iterator[Moment]:
    for i, item in enumerate(load_json(path, list)):
        where = f"entry {i}"
        times = field(item, "times", path, where, list)
        if not times or not all(isinstance(t, list) and len(t) == 2 and all(isinstance(x, int | float) for x in t)
                                for t in times):
            raise DataError(f"{path}: {where}: 'times' should be a non-empty list of [start, end] segment pairs")
        start = sum(t[0] for t in times) / len(times) * SEGMENT
        end = (sum(t[1] for t in times) / len(times) + 1) * SEGMENT
        video = flickr_video(field(item, "video", path, where))
        yield Moment(video, field(item, "description", path, where), start, end)


def parse(folder: Path) -> Catalog:
    """Catalog from a folder holding the three DiDeMo JSON files."""
    return catalog_from_files(folder, SPLITS, _moments, paragraph=True)


DATASET = AnnotatedDataset(
    name="didemo",
    sources=tuple(Source(BASE_URL + name, name) for name in SPLITS.values()),
    parse=parse,
    splits=tuple(SPLITS),
)
