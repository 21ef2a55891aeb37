"""One writer per output: a stage holds an exclusive lock on the folder it writes (a dataset
root, a shard set, an index, a run) for as long as it runs, so two runs never clear or
replace each other's files; readers take no lock and stay allowed.

The lock is ``fcntl.flock`` on ``FOLDER/.tvrkit.lock``, which records the holder's pid,
host, stage and start time. The kernel drops a flock when its process dies, so a lock file
left by a killed run is stale by construction: the next writer takes it over and says
whose it was. Creating the lock file is also the first write into the folder, so an
unwritable or read-only output is reported here, before any work starts.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tvrkit.errors import StageError

log = logging.getLogger(__name__)
LOCK_FILE = ".tvrkit.lock"


class LockedError(StageError):
    """Another process is writing the same output (exit 1)."""


def describe_holder(record: dict[str, Any]) -> str:
    """``tvrkit shard (pid 12, host h, since 2026-01-01T00:00:00Z)`` from a lock file's record."""
    if not record:
        return "another tvrkit process"
    return (f"tvrkit {record.get('stage', '?')} (pid {record.get('pid', '?')} on host {record.get('host', '?')}, "
            f"since {record.get('since', '?')})")


def _read_record(fd: int) -> dict[str, Any]:
    os.lseek(fd, 0, os.SEEK_SET)
    raw = os.read(fd, 4096)
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}  # empty (the holder is between open and write) or not ours
    return record if isinstance(record, dict) else {}


def _holder_record(fd: int, wait: float = 1.0) -> dict[str, Any]:
    """The record of the process holding the lock on ``fd``. The holder writes it just after taking
    the lock, so a second run arriving in between finds the file empty: re-read it for up to ``wait`` s."""
    deadline = time.monotonic() + wait
    while not (record := _read_record(fd)) and time.monotonic() < deadline:
        time.sleep(0.01)
    return record


def writable_error(path: Path, exc: OSError) -> StageError:
    """The one message for an output folder that cannot be written."""
    reason = {errno.EROFS: "read-only file system", errno.EACCES: "permission denied",
              errno.EPERM: "permission denied", errno.ENOSPC: "no space left on the device"}
    return StageError(f"cannot write to {path}: {reason.get(exc.errno, exc.strerror or str(exc))}; "
                      "choose a writable output or fix its permissions")


def _open_locked(path: Path, stage: str) -> tuple[int, dict[str, Any]]:
    """Open and flock ``path``; returns the descriptor and the previous (stale) record, if any."""
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise writable_error(path.parent, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = describe_holder(_holder_record(fd))
            os.close(fd)
            raise LockedError(f"{path.parent} is being written by {holder}; a second {stage} on it would "
                              f"destroy its work: wait for it to finish or stop it (lock file {path})") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:  # else the holder released (unlinked) it between our open and flock: retry
            return fd, _read_record(fd)
        os.close(fd)


@contextlib.contextmanager
def output_lock(folder: str | os.PathLike[str], stage: str) -> Iterator[Path]:
    """Hold the exclusive write lock of ``folder`` (created if needed) for the ``with`` body.

    Raises :class:`LockedError` at once, naming the holder, when another process holds it, and
    :class:`~tvrkit.errors.StageError` when the folder cannot be written. Yields the lock file.
    """
    path = Path(folder) / LOCK_FILE
    fd, stale = _open_locked(path, stage)
    if stale:
        log.warning("%s: taking over the stale lock of %s, which is no longer running", folder,
                    describe_holder(stale))
    record = {"pid": os.getpid(), "host": socket.gethostname(), "stage": stage,
              "since": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode("utf-8"), 0)
    except OSError as exc:
        os.close(fd)
        raise writable_error(path.parent, exc) from None
    try:
        yield path
    finally:
        # unlink while still holding it: a waiter that opened the old file sees another inode and retries
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.close(fd)
