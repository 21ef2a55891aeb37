"""Per-stage failure records (``ROOT/failures.jsonl``) and run summaries.

A failed item never stops a run: it is recorded as ``{"item", "stage", "error"}`` and
the stage goes on. Each stage owns its own lines: when a stage finishes, the file is
rewritten with the other stages' lines plus this run's, so fixed items disappear on a
re-run and nothing another stage wrote is lost. Lines are also appended as they happen,
so a killed run still leaves its failures on disk.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from tvrkit.fsutil import write_json_atomic, write_text_atomic

FAILURES_FILE = "failures.jsonl"


def read_failures(root: str | os.PathLike[str], stage: str | None = None) -> list[dict[str, Any]]:
    """Return the recorded failures under ``root`` (optionally of one stage only)."""
    path = Path(root) / FAILURES_FILE
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a kill; the stage rewrites the file when it ends
        if stage is None or rec.get("stage") == stage:
            records.append(rec)
    return records


class FailureLog:
    """Collects one stage's failures; use as a context manager around the stage."""

    def __init__(self, root: str | os.PathLike[str], stage: str) -> None:
        self.root = Path(root)
        self.stage = stage
        self.records: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def record(self, item: str, error: str, **extra: Any) -> None:
        """Record that ``item`` failed in this stage with ``error`` (plus any details)."""
        rec = {"item": item, "stage": self.stage, "error": error, **extra}
        with self._lock:
            self.records.append(rec)
            self.root.mkdir(parents=True, exist_ok=True)
            with open(self.root / FAILURES_FILE, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")

    def finalize(self) -> None:
        """Rewrite the file: other stages' lines, then this run's, atomically."""
        others = [r for r in read_failures(self.root) if r.get("stage") != self.stage]
        lines = [json.dumps(r, ensure_ascii=False) for r in others + self.records]
        if lines or (self.root / FAILURES_FILE).exists():
            write_text_atomic(self.root / FAILURES_FILE, "".join(line + "\n" for line in lines))

    def __enter__(self) -> FailureLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finalize()


def write_summary(path: str | os.PathLike[str], summary: dict[str, Any]) -> None:
    """Validate ``summary`` against ``schemas/summary.schema.json`` and write it last."""
    from tvrkit.config import validate_document

    validate_document(summary, "summary")
    write_json_atomic(path, summary)
