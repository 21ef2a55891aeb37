"""Shared test fixtures: where ../shared lives, and skipping when it is absent; torch on one thread.

The test folders mirror the package (``tests/<package>/test_*.py``); the helpers they share
(``train_data``, ``eval_testdata``, ...) sit here, and scripts the tests start in a subprocess (torchrun
workers) find them through ``PYTHONPATH``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
FIXTURES = SHARED / "fixtures"
_TESTS = str(Path(__file__).resolve().parent)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_TESTS, os.environ.get("PYTHONPATH")) if p)


@pytest.fixture
def shared_fixtures() -> Path:
    """Path of ../shared/fixtures; skips the test where it is not present (the core suite must not need it)."""
    if not FIXTURES.is_dir():
        pytest.skip("../shared/fixtures not present")
    return FIXTURES


@pytest.fixture
def one_thread():
    """Torch math on one thread for the test: the suite shares two cores with other processes, and
    OpenMP threads that spin-wait for each other then make every training step many times slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _mount_tmpfs(path: Path, options: str) -> None:
    import subprocess

    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode(errors='replace').strip()})")


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 2 MiB tmpfs (a disk that fills up); skips where mounting is not allowed."""
    import subprocess

    path = tmp_path / "small"
    _mount_tmpfs(path, "size=2m")
    yield path
    subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture
def read_only_dir(tmp_path):
    """A read-only file system (a tmpfs mounted ro: root ignores permission bits); skips where not allowed."""
    import subprocess

    path = tmp_path / "ro"
    _mount_tmpfs(path, "ro,size=1m")
    yield path
    subprocess.run(["umount", "-l", str(path)], check=False)
