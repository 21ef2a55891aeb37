"""Charades (9,848 scripted indoor videos): each video's ``script`` is its caption.

Annotations: ``Charades.zip`` (AI2) with ``Charades_v1_train.csv`` and
``Charades_v1_test.csv`` (columns include ``id``, ``script``, ``length`` in seconds).
Splits ``train`` / ``test`` (7,985 / 1,863 videos), one script per video.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tvrkit.catalog import Catalog
from tvrkit.datasets.base import AnnotatedDataset, Source
from tvrkit.datasets.parsing import LINE, Moment, catalog_from_files, read_table
from tvrkit.errors import DataError

SPLITS = {"train": "Charades_v1_train.csv", "test": "Charades_v1_test.csv"}


def _moments(path: Path) -> Iterator[Moment]:
    for row in read_table(path, ("id", "script")):
        if not row["script"].strip():
            raise DataError(f"{path}: line {row[LINE]} ({row['id']}): empty script")
        yield Moment(row["id"].strip(), row["script"])


def parse(folder: Path) -> Catalog:
    """Catalog from a folder holding the two Charades CSV files."""
    return catalog_from_files(folder, SPLITS, _moments)


DATASET = AnnotatedDataset(
    name="charades",
    sources=(Source("https://ai2-public-datasets.s3-us-west-2.amazonaws.com/charades/Charades.zip", "Charades.zip"),),
    parse=parse,
    splits=tuple(SPLITS),
)
