"""``tvrkit prepare`` end to end from the CLI on real ffmpeg-encoded inputs: bad inputs
are recorded while the rest finishes, the catalog says what happened to every video,
re-runs skip valid outputs, ``--part`` shares reproduce one machine's result, and usage
errors exit 2."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tvrkit.catalog import read_catalog
from tvrkit.cli import main
from tvrkit.media.testsrc import make_video, truncate
from tvrkit.runlog import FAILURES_FILE, read_failures

GOOD = ("land scape é", "portrait", "nested")
BAD = ("zero", "random", "truncated", "audio only")


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    """A videos folder as users have them: nested, mixed extensions, odd names, broken files."""
    d = tmp_path_factory.mktemp("videos")
    make_video(d / "land scape é.mp4", 64, 48, duration=1.0, fps=10, audio=True)
    make_video(d / "sub" / "portrait.mov", 48, 64, duration=1.0, fps=10)
    make_video(d / "sub" / "deeper" / "nested.mkv", 80, 48, duration=1.0, fps=10)
    (d / "zero.mp4").write_bytes(b"")
    (d / "random.avi").write_bytes(os.urandom(2048))
    truncate(make_video(d / ".whole.mp4", 64, 48, duration=1.0, fps=10), d / "truncated.mp4", 0.5)
    make_video(d / "audio only.m4v", audio=True, video=False)
    return d


@pytest.fixture(scope="module")
def captions(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("captions") / "captions.csv"
    rows = [f'"{vid}","a video called {vid}",{"test" if i % 2 else "train"}'
            for i, vid in enumerate((*GOOD, *BAD, "absent"))]
    path.write_text("video_id,caption,split\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _prepare(*args: str) -> int:
    try:
        main(["-q", "prepare", *args])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def _custom(root: Path, videos: Path, captions: Path, *extra: str) -> int:
    return _prepare("custom", "--root", str(root), "--captions", str(captions), "--videos-dir", str(videos),
                    "--size", "32", "--workers", "2", *extra)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, videos, captions) -> Path:
    root = tmp_path_factory.mktemp("root")
    assert _custom(root, videos, captions) == 0  # failures warn; exit 0 without --strict
    return root


def test_every_video_has_a_status_and_probe_results(prepared):
    rows = {r["video_id"]: r for r in read_catalog(prepared).videos.to_pylist()}
    assert {vid: r["status"] for vid, r in rows.items()} == {
        **dict.fromkeys(GOOD, "ok"), **dict.fromkeys(BAD, "failed"), "absent": "missing"}
    assert (rows["portrait"]["width"], rows["portrait"]["height"]) == (32, 42)
    assert (rows["nested"]["width"], rows["nested"]["height"]) == (54, 32)  # 32 * 80/48 = 53.3 -> 54
    assert rows["land scape é"]["frames"] == 3 and rows["land scape é"]["fps"] == 3.0
    assert rows["land scape é"]["duration"] == pytest.approx(1.0)
    assert rows["nested"]["source"].endswith("sub/deeper/nested.mkv")
    assert rows["absent"]["source"] is None and rows["zero"]["width"] is None
    assert sorted(p.name for p in (prepared / "compressed").iterdir()) == sorted(f"{v}.mp4" for v in GOOD)


def test_failures_are_logged_with_step_and_ffmpeg_stderr(prepared):
    failures = {r["item"]: r for r in read_failures(prepared, "prepare")}
    assert sorted(failures) == sorted((*BAD, "absent"))
    assert failures["absent"]["step"] == "locate"
    for vid in BAD:
        assert failures[vid]["step"] == "compress" and "ffmpeg exited" in failures[vid]["error"]
        assert "[error]" in failures[vid]["stderr"] or "[fatal]" in failures[vid]["stderr"]


def test_summary_is_written_with_counts_versions_and_config(prepared):
    summary = json.loads((prepared / "prepare.summary.json").read_text())
    assert (summary["ok"], summary["skipped"], summary["failed"], summary["missing"]) == (3, 0, 5, 1)
    assert summary["versions"]["ffmpeg"].startswith("ffmpeg version")
    assert summary["config"]["compress"]["size"] == 32 and summary["config"]["dataset"] == "custom"
    assert summary["splits"] == {"test": 4, "train": 4}
    assert (prepared / "catalog" / "config.resolved.yaml").exists()


def test_rerun_skips_valid_outputs_and_strict_fails(prepared, videos, captions, capsys):
    before = {p.name: p.read_bytes() for p in (prepared / "compressed").iterdir()}
    assert _custom(prepared, videos, captions, "--strict") == 1
    assert "5 video(s) missing or failed" in capsys.readouterr().err
    summary = json.loads((prepared / "prepare.summary.json").read_text())
    assert (summary["ok"], summary["skipped"]) == (0, 3)
    assert {p.name: p.read_bytes() for p in (prepared / "compressed").iterdir()} == before
    assert len(read_failures(prepared, "prepare")) == 5  # replaced, not appended again


def test_a_fixed_video_leaves_the_failure_log(tmp_path, videos, captions):
    folder = tmp_path / "videos"
    shutil.copytree(videos, folder)
    assert _custom(tmp_path, folder, captions) == 0
    assert "absent" in {r["item"] for r in read_failures(tmp_path, "prepare")}
    make_video(folder / "late" / "absent.mp4", 64, 48, duration=1.0, fps=10)  # the user found the video
    assert _custom(tmp_path, folder, captions) == 0
    rows = {r["video_id"]: r["status"] for r in read_catalog(tmp_path).videos.to_pylist()}
    assert rows["absent"] == "ok"
    assert "absent" not in {r["item"] for r in read_failures(tmp_path, "prepare")}


def test_parts_produce_what_one_machine_does(tmp_path, prepared, videos, captions):
    for part in ("2/2", "1/2"):
        assert _custom(tmp_path, videos, captions, "--part", part) == 0
    assert not (tmp_path / "catalog").exists()  # parts write only their own folders
    parts = [json.loads((tmp_path / "parts" / "prepare" / f"part-{i}-of-2" / "result.json").read_text())["summary"]
             for i in (1, 2)]
    assert _custom(tmp_path, videos, captions, "--merge") == 0
    for name in ("videos", "captions", "splits"):
        assert pq.read_table(tmp_path / "catalog" / f"{name}.parquet").equals(
            pq.read_table(prepared / "catalog" / f"{name}.parquet")), name
    for path in (prepared / "compressed").iterdir():
        assert (tmp_path / "compressed" / path.name).read_bytes() == path.read_bytes()
    key = lambda r: r["item"]  # noqa: E731
    ours = sorted(read_failures(tmp_path), key=key)
    assert [(r["item"], r["step"], r["error"]) for r in ours] == [
        (r["item"], r["step"], r["error"]) for r in sorted(read_failures(prepared), key=key)]
    assert sum(p["processed"] for p in parts) == 8 and all(0 < p["processed"] < 8 for p in parts)
    assert (tmp_path / FAILURES_FILE).read_bytes() == (prepared / FAILURES_FILE).read_bytes()
    assert json.loads((tmp_path / "prepare.summary.json").read_text())["parts"]["count"] == 2
    assert not (tmp_path / "parts").exists()


def test_skip_videos_builds_the_catalog_only(tmp_path, videos, captions):
    assert _custom(tmp_path, videos, captions, "--skip-videos") == 0
    rows = read_catalog(tmp_path).videos.to_pylist()
    assert {r["status"] for r in rows} == {"pending"}
    assert {r["video_id"]: r["source"] is not None for r in rows}["absent"] is False
    assert not (tmp_path / "compressed").exists()
    assert json.loads((tmp_path / "prepare.summary.json").read_text())["versions"]["ffmpeg"] == "not run"


def test_synthetic_end_to_end(tmp_path):
    assert _prepare("synthetic", "--root", str(tmp_path), "--videos", "4", "--seed", "1", "--size", "32") == 0
    catalog = read_catalog(tmp_path)
    assert set(catalog.videos.column("status").to_pylist()) == {"ok"}
    assert len(list((tmp_path / "compressed").glob("*.mp4"))) == 4
    assert {"train", "test"} >= set(catalog.split_names())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["custom", "--part", "0/2"], "must be I/N"),
        (["custom", "--part", "1/2", "--merge"], "goes with neither --merge"),
        (["custom", "--part", "auto"], "SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT not set"),
        (["custom", "--size", "225"], "compress.size"),
        (["nope"], "dataset: \"nope\" is not allowed"),
        (["custom", "--skip-videos"], "--captions FILE is required"),
        (["custom", "--captions", "c.csv"], "--videos-dir is required"),
        (["lsmdc", "--skip-videos"], "permission from MPII"),
        (["msrvtt", "--annotations", ".", "--annotations-url", "http://127.0.0.1:9/x.zip"], "not both"),
        (["custom", "--set", "compress.crf=99"], "compress.crf"),
        (["custom", "--videos-dir", "/nonexistent/videos"], "no such folder"),
    ],
)
def test_usage_and_config_errors_exit_2(tmp_path, capsys, args, message):
    assert _prepare(args[0], "--root", str(tmp_path), *args[1:]) == 2
    assert message in capsys.readouterr().err
