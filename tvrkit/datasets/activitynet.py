"""ActivityNet Captions (20k YouTube videos with dense, timed captions) for
paragraph-to-video retrieval: each video's captions joined in time order form one query.

Annotations: ``captions.zip`` of the dense-captioning release: ``train.json`` and
``val_1.json``, each ``{video_id: {"duration", "timestamps": [[s, e]], "sentences"}}``.
Splits: ``train`` (train.json, 10,009 videos) and ``test`` (val_1.json, 4,917 videos,
the field's test set). Video files are named with or without the ``v_`` prefix.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tvrkit.catalog import Catalog
from tvrkit.datasets.base import AnnotatedDataset, Source
from tvrkit.datasets.parsing import Moment, catalog_from_files, field, load_json
from tvrkit.errors import DataError

SPLITS = {"train": "train.json", "test": "val_1.json"}


def _moments(path: Path) -> Iterator[Moment]:
    for vid, item in load_json(path).items():
        stamps = field(item, "timestamps", path, f"video {vid!r}", list)
        sentences = field(item, "sentences", path, f"video {vid!r}", list)
        if len(stamps) != len(sentences):
            raise DataError(f"{path}: video {vid!r} has {len(stamps)} timestamps but {len(sentences)} sentences")
        for stamp, sentence in zip(stamps, sentences, strict=True):
            if not (isinstance(stamp, list) and len(stamp) == 2 and isinstance(sentence, str)):
                raise DataError(f"{path}: video {vid!r}: expected [start, end] and a sentence, got {stamp!r}")
            yield Moment(vid, sentence, float(stamp[0]), float(stamp[1]))


def stems(video_id: str) -> tuple[str, ...]:
    """``v_ABC`` may be stored as ``v_ABC.mp4`` or ``ABC.mp4``."""
    return (video_id, video_id[2:]) if video_id.startswith("v_") else (video_id,)


def parse(folder: Path) -> Catalog:
    """Catalog from a folder holding train.json and val_1.json."""
    return catalog_from_files(folder, SPLITS, _moments, paragraph=True)


DATASET = AnnotatedDataset(
    name="activitynet",
    sources=(Source("https://cs.stanford.edu/people/ranjaykrishna/densevid/captions.zip", "captions.zip"),),
    parse=parse,
    stems=stems,
    splits=tuple(SPLITS),
)
