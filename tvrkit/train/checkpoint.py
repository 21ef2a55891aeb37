"""Checkpoints that resume a run exactly: written atomically, the last K kept, plus
``last.pt`` and ``best.pt``.

A checkpoint holds the model, optimizer, scheduler and gradient-scaler states, every
random generator of every rank, the data position (epoch and micro-batches consumed in
it) and the resolved config. Step files are ``step-00000123.pt``; ``last.pt`` and
``best.pt`` are hard links to one of them (a copy where links are not supported), each
swapped in with one rename, so a kill at any moment leaves either the old or the new
file, never a torn one. Only plain types and tensors are stored, so loading uses
``torch.load(weights_only=True)`` and never runs pickled code.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tvrkit.errors import StageError
from tvrkit.fsutil import atomic_path

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
LAST, BEST = "last.pt", "best.pt"
_STEP_FILE = re.compile(r"^step-(\d{8})\.pt$")


def capture_rng() -> dict[str, Any]:
    """This process's random generator states (python, numpy, torch CPU and CUDA)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state: dict[str, Any] = {
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng`."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss_next"]))
    np_state = state["numpy"]
    np.random.set_state((np_state["kind"], np_state["keys"].numpy().astype(np.uint32), np_state["pos"],
                         np_state["has_gauss"], np_state["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices) from one integer."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _link_or_copy(src: Path, dst: Path) -> None:
    """Point ``dst`` at ``src``'s content with one atomic rename."""
    with atomic_path(dst) as tmp:
        tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


class CheckpointDir:
    """The ``checkpoints/`` folder of a run: save, prune, find the latest, load."""

    def __init__(self, out_dir: str | os.PathLike[str], keep_last: int) -> None:
        self.root = Path(out_dir) / CHECKPOINT_DIR
        self.keep_last = keep_last

    def step_path(self, step: int) -> Path:
        return self.root / f"step-{step:08d}.pt"

    def step_files(self) -> list[Path]:
        """Step checkpoints on disk, oldest first."""
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if _STEP_FILE.match(p.name))

    def save(self, state: dict[str, Any], step: int, best: bool) -> Path:
        """Write ``state`` as step ``step``; update ``last`` (and ``best``); drop old steps."""
        path = self.step_path(step)
        try:
            with atomic_path(path) as tmp:
                torch.save(state, tmp)
        except RuntimeError as exc:  # torch's zip writer reports a failed write as "unexpected pos ..."
            free = shutil.disk_usage(self.root).free
            raise StageError(f"cannot write checkpoint {path}: {str(exc).splitlines()[0]} ({free / 2**20:.1f} MiB free "
                             "there); free some space and continue with --resume") from exc
        _link_or_copy(path, self.root / LAST)
        if best:
            _link_or_copy(path, self.root / BEST)
        for old in self.step_files()[: -self.keep_last]:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
        return path

    def mark_best(self, step: int) -> None:
        """Point ``best`` at the already written step ``step``."""
        _link_or_copy(self.step_path(step), self.root / BEST)

    def latest(self) -> Path | None:
        """``last.pt`` if present (the newest complete checkpoint), else None."""
        path = self.root / LAST
        return path if path.exists() else None

    def exists(self) -> bool:
        return self.latest() is not None or bool(self.step_files())

    def load_latest(self) -> tuple[Path, dict[str, Any]] | None:
        """``(path, checkpoint)`` of the newest checkpoint that loads: ``last.pt``, else the step
        files newest first (a damaged ``last.pt`` must not cost the run, an intact step file
        beside it resumes it). None when there is no checkpoint; :class:`StageError` naming
        each file when none loads."""
        candidates = ([self.root / LAST] if self.latest() is not None else []) + self.step_files()[::-1]
        damaged = []
        for path in candidates:
            try:
                ckpt = load_training_state(path)
            except Exception as exc:  # torch raises RuntimeError, EOFError, UnpicklingError... for damage
                damaged.append(f"{path.name}: {str(exc).splitlines()[0].split('. ')[0]}")
                continue
            if damaged:
                log.warning("checkpoint(s) damaged (%s); resuming from %s, the newest intact one",
                            "; ".join(damaged), path)
            return path, ckpt
        if damaged:
            raise StageError(f"no checkpoint in {self.root} loads: " + "; ".join(damaged))
        return None


def load_training_state(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The training state a checkpoint written by :class:`CheckpointDir` holds, as a dict (model and
    optimizer state, RNG, data position, config: what ``--resume`` restores; tensors only, no pickled
    code runs). The model itself, ready to score, comes from :func:`tvrkit.models.load_checkpoint`."""
    return torch.load(path, map_location=map_location, weights_only=True)
