"""LSMDC (movie clips with audio-description sentences); ``test-1000`` is the field's
1,000-clip test set (the 2016 challenge's public test file, one sentence per clip).

Annotations need permission from MPII, so there is no public source: pass
``--annotations`` with the tab-separated files ``LSMDC16_annos_training.csv``,
``LSMDC16_annos_val.csv`` and ``LSMDC16_challenge_1000_publictect.csv`` (columns: clip id,
aligned start/end, extracted start/end, sentence). Clips are ``{movie}/{clip_id}.avi``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tvrkit.catalog import Catalog
from tvrkit.datasets.base import AnnotatedDataset
from tvrkit.datasets.parsing import Moment, catalog_from_files, read_table

SPLITS = {
    "train": "LSMDC16_annos_training.csv",
    "val": "LSMDC16_annos_val.csv",
    "test-1000": "LSMDC16_challenge_1000_publictect.csv",
}
COLUMNS = ("clip_id", "start_aligned", "end_aligned", "start_extracted", "end_extracted", "sentence")


def _moments(path: Path) -> Iterator[Moment]:
    for row in read_table(path, COLUMNS, delimiter="\t", header=False):
        yield Moment(row["clip_id"].strip(), row["sentence"])


def parse(folder: Path) -> Catalog:
    """Catalog from a folder holding the three LSMDC16 files."""
    return catalog_from_files(folder, SPLITS, _moments)


DATASET = AnnotatedDataset(
    name="lsmdc",
    sources=(),
    parse=parse,
    note="LSMDC annotations require permission from MPII (https://sites.google.com/site/describingmovies).",
    splits=tuple(SPLITS),
)
