"""Every input a training run needs, checked before its first step.

A run reads its train split every epoch, its selection split (val, the held-out part of the
train split, or test) at the first evaluation, the backbone's pretrained file when the model
is built and the ``train.init`` checkpoint. Without this check a missing validation split
fails only after the first epoch's work. All problems are reported at once, each naming its
key, as one :class:`~tvrkit.errors.ConfigError` (exit 2).
"""

from __future__ import annotations

from pathlib import Path

from tvrkit.errors import ConfigError, DataError
from tvrkit.train.config import TrainConfig


def _split_problem(cfg: TrainConfig, key: str, split: str) -> str | None:
    from tvrkit.catalog import read_catalog
    from tvrkit.data.holdout import split_source
    from tvrkit.data.readers import open_reader

    data = cfg.data
    try:
        stored, keep = split_source(data, split)
        read_catalog(data.root).split_video_ids(stored)  # the split's captions come from the catalog
        ids = open_reader(data.format, data.root, stored).video_ids()
    except (ConfigError, DataError, OSError) as exc:
        return f"{key} {split!r}: {exc}"
    readable = [v for v in ids if keep is None or v in keep]
    if not readable:
        return f"{key} {split!r}: no readable {data.format} videos under {data.root}"
    return None


def input_problems(cfg: TrainConfig, world_size: int) -> list[str]:
    """What is missing or unreadable among the run's inputs (empty when it can start)."""
    from tvrkit.data.batch_samplers import rank_batch_size

    problems = []
    try:
        rank_batch_size(cfg.data.batch_size, world_size, cfg.train.grad_accum)
    except ConfigError as exc:
        problems.append(str(exc))
    splits = [("data.train_split", cfg.data.train_split)]
    selection = cfg.selection_split()
    if selection is not None:
        key = {"val": "data.val_from_train" if cfg.data.val_from_train else "data.val_split",
               "test": "data.test_split"}[cfg.train.select_on]
        splits.append((key, selection))
    for key, split in splits:
        problem = _split_problem(cfg, key, split)
        if problem:
            problems.append(problem)
    pretrained = cfg.model.backbone.pretrained
    if pretrained is not None and not Path(pretrained).is_file():
        problems.append(f"model.backbone.pretrained: no such file {pretrained}")
    if cfg.train.init is not None:
        from tvrkit.models.checkpoints import read_checkpoint

        try:
            read_checkpoint(cfg.train.init)
        except ConfigError as exc:
            problems.append(f"train.init: {exc}")
    return problems


def check_inputs(cfg: TrainConfig, world_size: int) -> None:
    """Raise one :class:`ConfigError` listing every problem :func:`input_problems` finds."""
    problems = input_problems(cfg, world_size)
    if problems:
        raise ConfigError("the run cannot start: " + "; ".join(problems))
