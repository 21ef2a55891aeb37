"""Generated inputs for the search tests: a library folder of tiny real videos, a checkpoint
of a tiny random model in the trainer's format, and an index built from them (``tvrkit index``
with the compression size of the videos, so they are adopted without re-encoding)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eval_testdata import make_checkpoint, make_eval_root


def index_config(videos: Path, out: Path, checkpoint: Path, **extra: Any) -> Any:
    from tvrkit.search.config import load_index_config

    base = {"videos": str(videos), "out": str(out), "checkpoint": str(checkpoint), "loader_workers": 0,
            "compress": {"size": 48, "workers": 2}, **extra}
    return load_index_config(base=base)


def small_library(base: Path) -> tuple[Path, Path, Path]:
    """(videos folder, checkpoint, index folder): six 64x48 clips of 2-5 s, indexed."""
    from tvrkit.search.index import run_index

    root = make_eval_root(base / "root")
    ckpt = make_checkpoint(base / "ckpt.pt", root, temporal="seqTransf")
    out = base / "index"
    run_index(index_config(root / "compressed", out, ckpt))
    return root / "compressed", ckpt, out
