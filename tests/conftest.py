"""Shared test fixtures: where ../shared lives, and skipping when it is absent; torch on one thread."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
FIXTURES = SHARED / "fixtures"


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
