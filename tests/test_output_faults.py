"""No traceback for an output the stage cannot write: a read-only output is named before any
work, a disk that fills up mid-stage stops the stage with one message (exit 1) instead of
recording every following video as failed."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest


def _tvrkit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tvrkit", *args], capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_shard_into_a_full_disk_stops_with_one_message(tmp_path, small_tmpfs):
    from shard_testdata import make_root

    make_root(tmp_path / "root", {"train": 6}, size="160x120")
    (small_tmpfs / "filler").write_bytes(b"\0" * (2 * 2**20 - 96 * 1024))  # leave ~96 kB
    os.symlink(small_tmpfs, tmp_path / "root" / "shards")
    done = _tvrkit("shard", "--root", str(tmp_path / "root"), "--workers", "1")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "No space left on device" in done.stderr
    assert "failed" not in done.stdout  # not recorded as per-video decode failures


@pytest.mark.slow
def test_read_only_outputs_are_named_before_any_work(tmp_path, read_only_dir):
    from shard_testdata import make_root

    make_root(tmp_path / "root", {"train": 2})
    os.symlink(read_only_dir, tmp_path / "root" / "shards")
    for args in (("shard", "--root", str(tmp_path / "root")),
                 ("prepare", "synthetic", "--root", str(read_only_dir / "data"), "--videos", "2"),
                 ("index", "--videos", str(tmp_path / "root" / "compressed"), "--out", str(read_only_dir / "index"),
                  "--model-config", "demo")):
        done = _tvrkit(*args)
        assert done.returncode == 1 and "Traceback" not in done.stderr, (args, done.stderr)
        assert "read-only file system" in done.stderr, (args, done.stderr)


def test_compress_into_a_full_disk_stops_instead_of_failing_each_video(tmp_path, small_tmpfs):
    from tvrkit.media.compress import CompressConfig, Job, compress_videos
    from tvrkit.media.ffmpeg import ffmpeg_exe
    from tvrkit.media.testsrc import make_video

    jobs = [Job(f"v{i}", make_video(tmp_path / f"v{i}.mp4", 320, 240, duration=2.0, fps=25)) for i in range(3)]
    (small_tmpfs / "filler").write_bytes(b"\0" * (2 * 2**20 - 8 * 1024))  # leave ~8 kB
    with pytest.raises(OSError) as err:
        compress_videos(jobs, small_tmpfs / "compressed", CompressConfig(workers=1), ffmpeg_exe())
    assert err.value.errno == errno.ENOSPC
    assert not [p for p in (small_tmpfs / "compressed").iterdir()]  # no temporary file left behind
