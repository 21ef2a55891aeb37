"""One writer per output (:mod:`tvrkit.locks`): a second writer fails at once naming the holder,
a killed holder's lock is taken over, an unwritable output is a clean error; and two real
``tvrkit shard`` / ``tvrkit prepare`` processes on one root leave one complete, verified result."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tvrkit.errors import StageError
from tvrkit.locks import LOCK_FILE, LockedError, output_lock

HOLD = """
import sys, time
from tvrkit.locks import output_lock
with output_lock(sys.argv[1], "shard"):
    print("held", flush=True)
    time.sleep(60)
"""


def _holder(folder: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_writer_fails_at_once_naming_the_holder(tmp_path):
    proc = _holder(tmp_path / "out")
    try:
        t0 = time.monotonic()
        with pytest.raises(LockedError) as err, output_lock(tmp_path / "out", "shard"):
            pass
        assert time.monotonic() - t0 < 2
        assert f"pid {proc.pid} on host {socket.gethostname()}" in str(err.value)
        assert "tvrkit shard" in str(err.value) and LOCK_FILE in str(err.value)
        assert err.value.exit_code == 1
    finally:
        proc.kill()
        proc.wait()
    # the holder was killed -9: its lock file is left behind, stale, and taken over
    assert json.loads((tmp_path / "out" / LOCK_FILE).read_text())["pid"] == proc.pid
    with output_lock(tmp_path / "out", "index") as path:
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert not (tmp_path / "out" / LOCK_FILE).exists()  # released: nothing left in the output


LATE_RECORD = """
import fcntl, json, os, socket, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(0.3)  # a second run arrives here: the lock is held, its record not yet written
os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "stage": "shard"}).encode(), 0)
time.sleep(60)
"""


def test_a_second_writer_arriving_before_the_holder_wrote_its_record_still_names_it(tmp_path):
    (tmp_path / "out").mkdir()
    proc = subprocess.Popen([sys.executable, "-c", LATE_RECORD, str(tmp_path / "out" / LOCK_FILE)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(LockedError) as err, output_lock(tmp_path / "out", "shard"):
            pass
        assert f"tvrkit shard (pid {proc.pid} on host {socket.gethostname()}" in str(err.value)
    finally:
        proc.kill()
        proc.wait()


def test_stale_lock_is_reported(tmp_path, caplog):
    (tmp_path / LOCK_FILE).write_text(json.dumps({"pid": 999999, "host": "elsewhere", "stage": "prepare"}))
    with output_lock(tmp_path, "prepare"):
        pass
    assert "stale lock of tvrkit prepare (pid 999999 on host elsewhere" in caplog.text


def test_locks_are_per_folder_and_reusable(tmp_path):
    with output_lock(tmp_path / "a", "index"), output_lock(tmp_path / "b", "index"):
        with pytest.raises(LockedError):
            with output_lock(tmp_path / "a", "index"):
                pass
    with output_lock(tmp_path / "a", "index"):
        pass


def test_an_unwritable_output_is_a_clean_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StageError, match="cannot write to .*file"):
        with output_lock(tmp_path / "file" / "out", "train"):
            pass


def test_a_read_only_output_is_a_clean_error(read_only_dir):
    with pytest.raises(StageError, match="cannot write to .*: read-only file system"):
        with output_lock(read_only_dir / "out", "index"):
            pass


def _tvrkit(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tvrkit", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _race(*commands: tuple[str, ...]) -> list[tuple[int, str]]:
    procs = [_tvrkit(*c) for c in commands]
    return [(p.wait(timeout=600), p.communicate()[1]) for p in procs]


def _check_one_winner(results: list[tuple[int, str]]) -> None:
    codes = sorted(code for code, _ in results)
    loser = [err for code, err in results if code == 1]
    assert codes == [0, 1], results
    assert "is being written by tvrkit" in loser[0] and "pid" in loser[0] and "Traceback" not in loser[0]


@pytest.mark.slow
def test_two_concurrent_shard_runs_leave_every_split_verified(tmp_path):
    from shard_testdata import make_root

    make_root(tmp_path, {"train": 4, "val": 2, "test": 2})
    args = ("shard", "--root", str(tmp_path), "--format", "wds", "--workers", "1")
    _check_one_winner(_race(args, args))
    assert sorted(p.parent.name for p in (tmp_path / "shards" / "wds").glob("*/manifest.json")) == [
        "test", "train", "val"]
    verify = subprocess.run([sys.executable, "-m", "tvrkit", "verify", "--root", str(tmp_path)],
                            capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr


@pytest.mark.slow
def test_two_concurrent_prepare_runs_mark_no_good_video_failed(tmp_path):
    import pyarrow.parquet as pq

    args = ("prepare", "synthetic", "--root", str(tmp_path), "--videos", "6", "--workers", "1")
    _check_one_winner(_race(args, args))
    rows = pq.read_table(tmp_path / "catalog" / "videos.parquet").to_pylist()
    assert len(rows) == 6 and {r["status"] for r in rows} == {"ok"}
