"""Training samples that could not be read: each is recorded once, however often the sampler
draws it, in the run's ``failures.jsonl`` (stage ``train``, with the reader's reason), counted
in ``summary.json`` as ``skipped_samples`` (apart from ``skipped``, the steps dropped on
non-finite values) and warned about in one line. The loader draws the stand-ins
(:class:`tvrkit.data.clips.ClipDataset`); this only keeps the books, on rank 0.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from typing import Any

from tvrkit import dist
from tvrkit.runlog import FailureLog, read_failures

log = logging.getLogger(__name__)
STAGE = "train"


class SkippedSamples:
    """The books of one run's unreadable samples; ``wrap`` the batches, ``finish`` at the end."""

    def __init__(self, out: str | os.PathLike[str], write: bool, resume: bool) -> None:
        self.failures = FailureLog(out, STAGE) if write else None
        self.seen: dict[str, str] = {}
        if resume and self.failures is not None:  # the run so far: kept, and not warned about again
            for record in read_failures(out, STAGE):
                self.seen.setdefault(str(record["item"]), str(record["error"]))
            self.failures.records = [{"item": v, "stage": STAGE, "error": e} for v, e in self.seen.items()]

    def add(self, video_id: str, reason: str) -> None:
        """Record ``video_id`` the first time it is skipped."""
        if video_id in self.seen:
            return
        self.seen[video_id] = reason
        log.warning("skipping unreadable training video %s (a random readable one stands in): %s", video_id, reason)
        if self.failures is not None:
            self.failures.record(video_id, reason)

    def wrap(self, batches: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """``batches`` without their ``skipped`` lists, each skipped item recorded."""
        for batch in batches:
            for video_id, reason in batch.pop("skipped", ()):
                self.add(video_id, reason)
            yield batch

    def finish(self) -> int:
        """Every rank's skipped items written (rank 0), the log rewritten; returns how many."""
        for seen in dist.all_gather_object(self.seen)[1:]:
            for video_id, reason in seen.items():
                self.add(video_id, reason)
        if self.failures is not None:
            self.failures.finalize()
        return len(self.seen)
