"""``data.val_from_train``: a validation split carved out of the training split.

MSR-VTT's 1k-A protocol has no validation split, and its papers picked their best epoch on
the test split. ``val_from_train: N`` instead holds N videos of ``train_split`` out of
training (with all their captions) and validates on them, under the split name
:data:`HELDOUT`. The choice depends only on the catalog's train split and ``data.seed``, so
every run, rank and resume holds out the same videos, and the run's summary lists them.
"""

from __future__ import annotations

import functools

import numpy as np

from tvrkit.data.config import DataConfig
from tvrkit.errors import ConfigError

HELDOUT = "val_from_train"  # the selection split's name when data.val_from_train is set
_STREAM = 0x7661  # a generator stream of its own: no other use of data.seed draws the same numbers


@functools.lru_cache(maxsize=8)
def _heldout(root: str, stamp: tuple[int, int], split: str, count: int, seed: int) -> tuple[str, ...]:
    from tvrkit.catalog import read_catalog

    ids = read_catalog(root).split_video_ids(split)
    if count >= len(ids):
        raise ConfigError(f"data.val_from_train: {count} held-out videos leave nothing of the "
                          f"{len(ids)} videos of split {split!r} to train on")
    chosen = np.sort(np.random.default_rng([seed, _STREAM]).choice(len(ids), size=count, replace=False))
    return tuple(ids[i] for i in chosen)


def heldout_video_ids(cfg: DataConfig) -> tuple[str, ...]:
    """The ``data.val_from_train`` videos of ``cfg.train_split`` in catalog order (empty when unset)."""
    if not cfg.val_from_train:
        return ()
    from tvrkit.catalog import catalog_dir

    splits = catalog_dir(cfg.root) / "splits.parquet"
    stat = splits.stat() if splits.exists() else None
    stamp = (stat.st_mtime_ns, stat.st_size) if stat else (0, 0)
    return _heldout(str(cfg.root), stamp, cfg.train_split, cfg.val_from_train, cfg.seed)


def split_source(cfg: DataConfig, split: str) -> tuple[str, frozenset[str] | None]:
    """Where ``split`` is stored and which of its videos it keeps (None: all of them)."""
    if split == HELDOUT and cfg.val_from_train:
        return cfg.train_split, frozenset(heldout_video_ids(cfg))
    return split, None
