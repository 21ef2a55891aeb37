"""Part resolution (``--part I/N`` and ``auto`` from Slurm array variables) and reading the
complete set of parts for a merge: pure functions and folders, no subprocesses."""

from __future__ import annotations

import pytest

from tvrkit.cluster import check_same, in_part, part_dir, read_results, remove_parts, resolve_part, write_result
from tvrkit.errors import ConfigError, StageError


def _env(**values: int) -> dict[str, str]:
    return {f"SLURM_ARRAY_TASK_{k.upper()}": str(v) for k, v in values.items()}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (_env(id=0, count=4), (1, 4)),  # --array=0-3 without MIN exported: 0-based
        (_env(id=3, count=4, min=0, max=3), (4, 4)),
        (_env(id=1, count=4, min=1, max=4), (1, 4)),  # --array=1-4
        (_env(id=14, count=8, min=0, max=14, step=2), (8, 8)),  # --array=0-14:2
        (_env(id=7, count=1, min=7, max=7), (1, 1)),
    ],
)
def test_auto_reads_the_slurm_array_task(env, expected):
    assert resolve_part("auto", env) == expected


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT not set"),
        (_env(id=2), "SLURM_ARRAY_TASK_COUNT not set"),
        (_env(id=4, count=4, min=0), "not one of the 4 array indices 0, 1, ..., 3"),
        (_env(id=0, count=4, min=1), "not one of the 4 array indices"),
        (_env(id=3, count=4, min=0, step=2), "not one of the 4 array indices 0, 2, ..., 6"),
        (_env(id=1, count=3, min=1, max=9), "not a full range"),  # --array=1,5,9
        ({"SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "4"}, "'x' is not an integer"),
        (_env(id=0, count=0), "must be positive"),
    ],
)
def test_auto_refuses_missing_or_inconsistent_variables(env, message):
    with pytest.raises(ConfigError, match=message):
        resolve_part("auto", env)


def test_explicit_parts_and_shares():
    assert resolve_part("3/8", {}) == (3, 8)
    for bad in ("0/2", "3/2", "1/0", "a/b", "2"):
        with pytest.raises(ConfigError, match="must be I/N"):
            resolve_part(bad, {})
    ids = [f"video{i}" for i in range(500)]
    shares = [[v for v in ids if in_part(v, i, 4)] for i in range(1, 5)]
    assert sorted(v for s in shares for v in s) == sorted(ids)  # disjoint and complete
    assert all(80 < len(s) < 170 for s in shares)


def test_read_results_needs_every_part_of_one_count(tmp_path):
    with pytest.raises(StageError, match="no parts under"):
        read_results(tmp_path, "prepare")
    for i in (1, 3):
        write_result(part_dir(tmp_path, i, 3), {"part": f"{i}/3", "settings": {"fps": 3}})
    part_dir(tmp_path, 2, 3).mkdir()  # started, not finished
    with pytest.raises(StageError, match=r"part\(s\) 2 of 3 have not finished"):
        read_results(tmp_path, "prepare")
    write_result(part_dir(tmp_path, 2, 3), {"part": "2/3", "settings": {"fps": 2}})
    results = read_results(tmp_path, "prepare")
    assert [r["part"] for _, r in results] == ["1/3", "2/3", "3/3"]
    with pytest.raises(StageError, match="part-2-of-3 ran with settings"):
        check_same(results, "settings", {"fps": 3}, "prepare")
    write_result(part_dir(tmp_path, 1, 2), {"part": "1/2"})
    with pytest.raises(StageError, match="holds parts of 2 and of 3"):
        read_results(tmp_path, "prepare")
    remove_parts(tmp_path / "x")  # absent: nothing to do
    remove_parts(tmp_path)
    assert not tmp_path.exists()
