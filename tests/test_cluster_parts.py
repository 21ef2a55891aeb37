"""Cluster-scale preprocessing: 4 simulated Slurm array tasks, each a separate process with
its own ``SLURM_ARRAY_TASK_*`` variables, run ``prepare --part auto`` and ``shard --part
auto`` at the same time; ``--merge`` then writes a catalog, failure log, compressed videos,
shards and manifests byte-identical to one machine's run of the same commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tvrkit.media.testsrc import make_video

TASKS = 4
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, Path]:
    """Ten small clips of a few sizes, a broken file and an absent video, with captions in two splits."""
    d = tmp_path_factory.mktemp("inputs")
    ids = [f"clip{i:02d}" for i in range(10)]
    for i, vid in enumerate(ids):
        make_video(d / "videos" / f"{vid}.mp4", 64 + 16 * (i % 3), 48, duration=1.0, fps=6)
    (d / "videos" / "broken.mp4").write_bytes(b"not a video")
    rows = [f"{vid},a clip called {vid},{'test' if i % 3 == 0 else 'train'}"
            for i, vid in enumerate([*ids, "broken", "absent"])]
    (d / "captions.csv").write_text("video_id,caption,split\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return d / "videos", d / "captions.csv"


def _tvrkit(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tvrkit", "-q", *args], env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait(*procs: subprocess.Popen) -> None:
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out


def _array(*args: str) -> None:
    """``sbatch --array=1-4`` as four concurrent processes (task ids 1..4, MIN 1)."""
    env = {"SLURM_ARRAY_TASK_COUNT": str(TASKS), "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": str(TASKS)}
    _wait(*(_tvrkit(*args, "--part", "auto", env={**env, "SLURM_ARRAY_TASK_ID": str(i)})
            for i in range(1, TASKS + 1)))


def _files(root: Path) -> dict[str, bytes]:
    """Every output one machine and the merged parts must agree on, by relative path."""
    keep = [*root.glob("catalog/*.parquet"), root / "failures.jsonl", *root.glob("compressed/*"),
            *root.glob("shards/wds/*/*")]
    return {str(p.relative_to(root)): p.read_bytes() for p in keep if p.is_file()}


def test_four_array_tasks_then_merge_match_one_machine(tmp_path, inputs):
    videos, captions = inputs
    prepare = ("prepare", "custom", "--captions", str(captions), "--videos-dir", str(videos), "--size", "32",
               "--workers", "1")
    shard = ("shard", "--format", "wds", "--workers", "1", "--shard-size", "20KB", "--shard-multiple", "2")
    single, parts = tmp_path / "single", tmp_path / "parts"
    _wait(_tvrkit(*prepare, "--root", str(single)))
    _wait(_tvrkit(*shard, "--root", str(single)))

    _array(*prepare, "--root", str(parts))
    assert not (parts / "catalog").exists() and len(list((parts / "parts" / "prepare").iterdir())) == TASKS
    _wait(_tvrkit(*prepare, "--root", str(parts), "--merge"))
    _array(*shard, "--root", str(parts))
    assert not (parts / "shards" / "wds" / "train").exists()  # parts only stage
    _wait(_tvrkit(*shard, "--root", str(parts), "--merge"))

    want, got = _files(single), _files(parts)
    assert sorted(got) == sorted(want)
    assert len([p for p in want if p.endswith(".tar")]) >= 4 and "failures.jsonl" in want
    assert [p for p in want if got[p] != want[p]] == []
    assert not (parts / "parts").exists() and not (parts / "shards" / ".parts").exists()
    assert not (parts / "shards" / ".staging").exists()
