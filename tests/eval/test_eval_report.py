"""report.html: built from plain inputs, self-contained, and really rendered by a browser.

The browser test opens the page in headless Chromium (Debian's ``chromium``, installed here
when missing and we are root) and checks the screenshot shows the page: not blank, the
frame strips' colours present, and the green mark of the correct video drawn.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from browser import chromium

from tvrkit.eval.report import ReportQuery, render_report, sample_queries, write_report
from tvrkit.retrieval.strips import evenly_spaced, make_strips, strip_jpeg

COLOURS = {"red": (220, 30, 30), "blue": (30, 60, 220), "yellow": (240, 220, 20)}
MARK_BG = (0xE6, 0xF6, 0xEA)  # .hit.correct background in report.py


def _frames(colour: tuple[int, int, int], n: int = 4) -> np.ndarray:
    frames = np.full((n, 48, 64, 3), 240, np.uint8)
    for i in range(n):
        frames[i, 8:40, 4 + 10 * i: 24 + 10 * i] = colour  # a block that moves: frames differ
    return frames


def _metrics(**extra):
    row = {"R@1": 50.0, "R@5": 100.0, "R@10": 100.0, "R@50": 100.0, "MdR": 1.5, "MnR": 1.5}
    return {"t2v": row, "v2t": row, "n_texts": 2, "n_videos": 3, "post": "none", "ties": "optimistic",
            "transductive": False, "missing_videos": 0, "split": "test", "checkpoint": "ckpt.pt", **extra}


def _report_inputs():
    strips = {name: strip_jpeg(_frames(rgb)) for name, rgb in COLOURS.items()}
    queries = [
        ReportQuery("red#0", "a red block moves right", "red", 1, (("red", 0.9), ("blue", 0.2), ("yellow", 0.1))),
        ReportQuery("blue#0", "a blue <block> & friends", "blue", 2, (("yellow", 0.8), ("blue", 0.7))),
        ReportQuery("yellow#0", "a yellow block", "yellow", 4, (("red", 0.8), ("blue", 0.7))),
    ]
    return strips, queries


def test_evenly_spaced():
    assert evenly_spaced(10, 4) == [1, 3, 6, 8]
    assert evenly_spaced(3, 8) == [0, 1, 2]
    assert evenly_spaced(0, 4) == []


def test_strip_is_a_jpeg_of_the_frames_side_by_side():
    import io

    from PIL import Image

    data = strip_jpeg(_frames(COLOURS["red"]), height=32)
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG" and image.height == 32
    assert image.width == 4 * round(64 * 32 / 48) + 3 * 2  # four frames and three gaps


def test_render_marks_correct_video_and_escapes_text():
    strips, queries = _report_inputs()
    page = render_report(_metrics(post="dsl", transductive=True, missing_videos=2), queries, strips,
                         pairs={"accuracy": {"total": 0.75}, "n_captions": 4, "ties": {"total": 0}})
    assert page.count('class="hit correct"') == 3  # rank 1, rank 2, and the rank-4 video added below
    assert "correct (rank 4)" in page
    assert "a blue &lt;block&gt; &amp; friends" in page and "<block>" not in page
    assert "transductive" in page and "missing videos: 2" in page
    assert page.count("data:image/jpeg;base64,") == 8  # every shown video's strip is embedded
    assert "0.750" in page


def test_strips_from_compressed_videos(tmp_path):
    from tvrkit.datasets.synthetic import encode_video

    encode_video(_frames(COLOURS["blue"], n=9), 3, tmp_path / "compressed" / "v1.mp4")
    strips = make_strips(tmp_path, ["v1", "absent"], count=3)
    assert set(strips) == {"v1"}  # the unreadable one is left out, not fatal
    assert strips["v1"][:2] == b"\xff\xd8"


def test_sample_queries_mixes_hits_and_misses():
    ranks = [1, 1, 1, 1, 5, 9, 2, 1]
    chosen = sample_queries(len(ranks), ranks, 4, seed=3)
    assert len(chosen) == 4 and chosen == sorted(chosen)
    assert sum(ranks[i] == 1 for i in chosen) == 2
    assert chosen == sample_queries(len(ranks), ranks, 4, seed=3)


@pytest.mark.slow
def test_report_renders_in_headless_chromium(tmp_path):
    from PIL import Image

    browser = chromium()
    strips, queries = _report_inputs()
    page = tmp_path / "report.html"
    write_report(page, _metrics(), queries, strips)
    shot = tmp_path / "shot.png"
    argv = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,900",
            "--hide-scrollbars", page.resolve().as_uri()]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert shot.exists(), f"chromium wrote no screenshot (exit {proc.returncode}): {proc.stderr[-800:]}"
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(np.int16)
    assert pixels.shape[:2] == (900, 1200)
    assert pixels.std() > 10, "the screenshot is blank"

    def present(rgb: tuple[int, int, int], tol: int = 40) -> int:
        return int((np.abs(pixels - np.array(rgb)).max(axis=-1) <= tol).sum())

    # The frame strips were decoded and drawn (JPEG shifts colours a little, hence the tolerance)
    # and the correct video's row carries the green mark.
    for name, rgb in COLOURS.items():
        assert present(rgb) > 200, f"no {name} frame strip visible in the screenshot"
    assert present(MARK_BG, tol=4) > 1000, "the correct-video mark is not visible"


@pytest.mark.slow
def test_strips_from_shards_fall_back_to_compressed(tmp_path):
    from shard_testdata import sharded_root

    root = sharded_root(tmp_path / "root", formats=("lmdb",))
    # v000 is in the train shards; v002 has no file at all; v007 (a test video) has a corrupt mp4
    strips = make_strips(root, ["v000", "v002", "v007"], sources=("shards", "compressed"), split="train", fmt="lmdb")
    assert set(strips) == {"v000"}
    (root / "compressed" / "v000.mp4").unlink()  # the shard alone still gives frames
    assert set(make_strips(root, ["v000"], sources=("shards",), split="train", fmt="lmdb")) == {"v000"}
    assert make_strips(root, ["v000"], sources=("compressed",), split="train", fmt="lmdb") == {}
