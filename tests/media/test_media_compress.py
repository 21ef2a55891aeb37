"""The compression runner on real ffmpeg-encoded inputs, good and bad: every bad input
becomes a recorded outcome while the rest finishes; re-runs skip valid outputs and redo
invalid ones; outputs are byte-reproducible; hung ffmpegs are killed; an interrupted run
leaves no partial output."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tvrkit.media.compress import CompressConfig, Job, compress_videos, output_path
from tvrkit.media.ffmpeg import ffmpeg_exe
from tvrkit.media.probe import output_problem, probe
from tvrkit.media.testsrc import make_video, truncate

CFG = CompressConfig(fps=3.0, size=32, workers=2, timeout=60)


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    """One source per case; the keys are the video ids (spaces and non-ASCII included)."""
    d = tmp_path_factory.mktemp("src")
    full = make_video(d / "full.mp4", 64, 48, duration=4.0, fps=10, faststart=True)
    moov_last = make_video(d / "moov_last.mp4", 64, 48, duration=1.0, fps=10)
    out = {
        "land scape é": make_video(d / "land scape é.mp4", 64, 48, duration=1.0, fps=10, audio=True),
        "portrait": make_video(d / "portrait.mp4", 48, 64, duration=1.0, fps=10),
        "zero": d / "zero.mp4",
        "random": d / "random.mp4",
        "truncated": truncate(moov_last, d / "truncated.mp4", 0.5),
        "truncated-faststart": truncate(full, d / "truncated-faststart.mp4", 0.4),
        "audio-only": make_video(d / "audio-only.mp4", duration=1.0, audio=True, video=False),
    }
    out["zero"].write_bytes(b"")
    out["random"].write_bytes(os.urandom(4096))
    return out


def _jobs(sources: dict[str, Path]) -> list[Job]:
    return [Job(vid, path) for vid, path in sources.items()] + [Job("absent", None)]


def _leftovers(out_dir: Path) -> list[str]:
    return sorted(p.name for p in out_dir.iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def first_run(sources, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("out")
    seen = []
    outcomes = compress_videos(_jobs(sources), out_dir, CFG, ffmpeg_exe(), on_outcome=seen.append, progress=False)
    return out_dir, outcomes, seen


def test_bad_inputs_are_recorded_and_good_ones_compressed(first_run):
    out_dir, outcomes, seen = first_run
    by_id = {o.video_id: o for o in outcomes}
    assert [o.video_id for o in outcomes][-1] == "absent"  # job order kept
    assert sorted(o.video_id for o in seen) == sorted(by_id)  # every outcome reported as it happened
    assert by_id["land scape é"].status == "ok"
    assert (by_id["land scape é"].info.width, by_id["land scape é"].info.height) == (42, 32)  # 32 * 4/3 = 42.7
    assert (by_id["portrait"].info.width, by_id["portrait"].info.height) == (32, 42)
    assert by_id["portrait"].info.frames == 3 and by_id["portrait"].info.duration == pytest.approx(1.0)
    assert by_id["absent"].status == "missing" and by_id["absent"].step == "locate"
    for vid in ("zero", "random", "truncated", "audio-only"):
        assert by_id[vid].status == "failed" and by_id[vid].step == "compress", vid
        assert by_id[vid].stderr, vid  # the tail of ffmpeg's stderr is kept for the failure log
    assert "moov atom not found" in by_id["truncated"].error
    # A cut file with its index first still decodes, but only in part: caught, not kept.
    assert by_id["truncated-faststart"].status == "failed" and by_id["truncated-faststart"].step == "verify"
    assert "truncated" in by_id["truncated-faststart"].error
    kept = sorted(p.name for p in out_dir.iterdir())
    assert kept == ["land scape é.mp4", "portrait.mp4"]
    assert _leftovers(out_dir) == []


def test_outputs_are_h264_without_audio_and_valid(first_run):
    out_dir, _, _ = first_run
    exe = ffmpeg_exe()
    info = probe(output_path(out_dir, "land scape é"), exe)
    assert info.codec == "h264" and not info.has_audio and info.fps == 3.0
    assert output_problem(info, 3.0, 32, 1.0) is None


def test_rerun_skips_valid_outputs_and_redoes_invalid_ones(sources, first_run, tmp_path):
    out_dir, _, _ = first_run
    rerun = tmp_path / "out"
    rerun.mkdir()
    good = {vid: output_path(out_dir, vid).read_bytes() for vid in ("land scape é", "portrait")}
    output_path(rerun, "land scape é").write_bytes(good["land scape é"])
    output_path(rerun, "portrait").write_bytes(good["portrait"][: len(good["portrait"]) // 2])  # damaged
    output_path(rerun, "random").write_bytes(b"not a video, but not empty either")
    (rerun / ".portrait.mp4.abc123.tmp.mp4").write_bytes(b"left by a killed run")
    outcomes = {o.video_id: o for o in compress_videos(_jobs(sources), rerun, CFG, ffmpeg_exe(), progress=False)}
    assert outcomes["land scape é"].status == "skipped"
    assert outcomes["land scape é"].info.frames == 3  # a skipped video still reports its probe
    assert outcomes["portrait"].status == "ok"
    assert outcomes["random"].status == "failed"
    for vid, data in good.items():
        assert output_path(rerun, vid).read_bytes() == data  # redone output equals the first run's
    assert _leftovers(rerun) == []


def test_output_bytes_do_not_depend_on_worker_count(sources, first_run, tmp_path):
    out_dir, _, _ = first_run
    cfg = CompressConfig(fps=3.0, size=32, workers=1, timeout=60)
    compress_videos([Job("portrait", sources["portrait"])], tmp_path, cfg, ffmpeg_exe(), progress=False)
    assert output_path(tmp_path, "portrait").read_bytes() == output_path(out_dir, "portrait").read_bytes()


def test_hung_ffmpeg_is_killed_at_the_timeout(tmp_path):
    fifo = tmp_path / "hang.mp4"
    os.mkfifo(fifo)  # opening a FIFO with no writer blocks forever: a real hang
    cfg = CompressConfig(fps=3.0, size=32, workers=1, timeout=1.0)
    [outcome] = compress_videos([Job("hang", fifo)], tmp_path / "out", cfg, ffmpeg_exe(), progress=False)
    assert outcome.status == "failed" and "did not finish within 1 s" in outcome.error
    assert list((tmp_path / "out").iterdir()) == []


def test_interrupt_kills_running_ffmpegs_and_leaves_no_partial_output(sources, tmp_path):
    jobs = [Job(f"v{i}", sources["portrait"]) for i in range(6)]

    def interrupt(outcome):
        raise KeyboardInterrupt

    cfg = CompressConfig(fps=3.0, size=32, workers=2, timeout=60)
    with pytest.raises(KeyboardInterrupt):
        compress_videos(jobs, tmp_path, cfg, ffmpeg_exe(), on_outcome=interrupt, progress=False)
    assert _leftovers(tmp_path) == []
    finished = list(tmp_path.iterdir())
    assert 1 <= len(finished) < 6
    for path in finished:  # whatever is there under a final name is complete
        assert output_problem(probe(path, ffmpeg_exe()), 3.0, 32, 1.0) is None


def test_valid_output_without_its_source_is_kept(first_run, tmp_path):
    """Raw videos are often deleted after compression; their outputs still count."""
    out_dir, _, _ = first_run
    (tmp_path / "kept.mp4").write_bytes(output_path(out_dir, "portrait").read_bytes())
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 64)
    jobs = [Job("kept", None), Job("broken", None), Job("gone", None)]
    kept, broken, gone = compress_videos(jobs, tmp_path, CFG, ffmpeg_exe(), progress=False)
    assert kept.status == "skipped" and kept.info.frames == 3
    assert broken.status == gone.status == "missing"
