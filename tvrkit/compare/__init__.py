"""``tvrkit compare``: every published method trained and evaluated under one protocol, over paired
seeds, with confidence intervals and costs (``run_compare``)."""

from tvrkit.compare.config import CompareConfig
from tvrkit.compare.runner import run_compare

__all__ = ["CompareConfig", "run_compare"]
