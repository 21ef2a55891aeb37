"""A ``kill -9`` in the middle of ``tvrkit prepare`` followed by a re-run ends with
exactly the outputs of an uninterrupted run, and nothing half-written is trusted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tvrkit.media.testsrc import make_video

N_VIDEOS = 10


def _finished(folder: Path) -> list[Path]:
    """Outputs under their final name (pathlib's glob also matches the hidden temporaries)."""
    return [p for p in folder.glob("*.mp4") if not p.name.startswith(".")]


def _command(root: Path, videos: Path, captions: Path) -> list[str]:
    return [sys.executable, "-m", "tvrkit", "-q", "prepare", "custom", "--root", str(root), "--captions",
            str(captions), "--videos-dir", str(videos), "--workers", "1", "--size", "64"]


@pytest.mark.slow
def test_kill_9_then_rerun_equals_an_uninterrupted_run(tmp_path):
    videos = tmp_path / "videos"
    for i in range(N_VIDEOS):  # long enough that the run is still busy when it is killed
        make_video(videos / f"clip {i:02d}.mp4", 320, 240, duration=4.0, fps=25)
    captions = tmp_path / "captions.csv"
    captions.write_text("video_id,caption\n" + "".join(f"clip {i:02d},caption {i}\n" for i in range(N_VIDEOS)))

    reference = tmp_path / "reference"
    subprocess.run(_command(reference, videos, captions), check=True, capture_output=True)

    root = tmp_path / "killed"
    proc = subprocess.Popen(_command(root, videos, captions), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    compressed = root / "compressed"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(_finished(compressed)) < 3:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole group: python and its running ffmpeg
    proc.wait()
    done = len(_finished(compressed))
    assert 3 <= done < N_VIDEOS, "the kill should land in the middle of the run"
    assert not (root / "prepare.summary.json").exists()  # the summary is written last

    subprocess.run(_command(root, videos, captions), check=True, capture_output=True)
    expected = sorted(p.name for p in (reference / "compressed").iterdir())
    assert sorted(p.name for p in compressed.iterdir()) == expected  # no temporary files left
    for name in expected:
        assert (compressed / name).read_bytes() == (reference / "compressed" / name).read_bytes(), name
    for table in ("videos", "captions", "splits"):
        assert pq.read_table(root / "catalog" / f"{table}.parquet").equals(
            pq.read_table(reference / "catalog" / f"{table}.parquet"))
    summary = json.loads((root / "prepare.summary.json").read_text())
    assert summary["skipped"] == done and summary["ok"] == N_VIDEOS - done
