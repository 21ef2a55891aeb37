"""The library scan under hostile folders: a non-UTF-8 name is reported and the rest scanned, a
symlink loop is entered once, and an index inside (or equal to) the folder is not scanned."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tvrkit.search.index import _own_outputs
from tvrkit.search.library import scan_folder


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"video")


def test_a_non_utf8_name_is_reported_and_the_rest_scanned(tmp_path):
    _touch(tmp_path / "good.mp4")
    with open(os.path.join(os.fsencode(tmp_path), b"bad\xff\xfe.mp4"), "wb") as fh:
        fh.write(b"video")
    skipped: list[tuple[str, str]] = []
    found = scan_folder(tmp_path, on_skip=lambda *s: skipped.append(s))
    assert [f.relpath for f in found] == ["good.mp4"]
    assert skipped == [("bad\\xff\\xfe.mp4", "the file name is not valid UTF-8; rename it to index it")]
    skipped[0][0].encode("utf-8")  # printable: can go to failures.jsonl and logs


def test_a_symlink_loop_is_entered_once(tmp_path, caplog):
    _touch(tmp_path / "a" / "clip.mp4")
    os.symlink(tmp_path, tmp_path / "a" / "loop")  # a -> root -> a -> ...
    os.symlink(tmp_path / "a", tmp_path / "again")  # a second way into a
    found = scan_folder(tmp_path)
    assert [f.relpath for f in found] == ["a/clip.mp4"]
    assert "symlink loop" in caplog.text


def test_an_index_inside_the_folder_is_not_scanned(tmp_path):
    _touch(tmp_path / "clip.mp4")
    out = tmp_path / "my-index"
    _touch(out / "compressed" / "0123456789abcdef.mp4")
    assert [f.relpath for f in scan_folder(tmp_path, _own_outputs(out, str(tmp_path)))] == ["clip.mp4"]


def test_an_index_written_into_the_folder_itself_skips_its_own_outputs(tmp_path):
    _touch(tmp_path / "clip.mp4")
    _touch(tmp_path / "sub" / "other.mov")
    for own in ("compressed/0123456789abcdef.mp4", "strips/0123456789abcdef.jpg", "features/videos/x.npy",
                "videos.parquet", "index.summary.json", "vectors.faiss"):
        _touch(tmp_path / own)
    found = scan_folder(tmp_path, _own_outputs(tmp_path, str(tmp_path)))
    assert [f.relpath for f in found] == ["clip.mp4", "sub/other.mov"]


@pytest.mark.slow
def test_index_a_hostile_folder_twice(tmp_path):
    """A non-UTF-8 name, a symlink loop and the index inside --videos: the rest is indexed, the
    name recorded, and a second run finds nothing new (its own clips are not indexed again)."""
    import shutil

    from eval_testdata import make_checkpoint, make_eval_root
    from search_testdata import index_config

    from tvrkit.runlog import read_failures
    from tvrkit.search.index import run_index

    root = make_eval_root(tmp_path / "root")
    videos = tmp_path / "videos"
    shutil.copytree(root / "compressed", videos)
    first = sorted(videos.iterdir())[0]
    shutil.copy(first, os.path.join(os.fsencode(videos), b"caf\xe9.mp4"))
    os.symlink(videos, videos / "loop")
    out = videos / "my-index"
    ckpt = make_checkpoint(tmp_path / "ckpt.pt", root)
    summary = run_index(index_config(videos, out, ckpt))
    clips = len(list((root / "compressed").iterdir()))
    assert summary["videos"] == clips and summary["failed"] == 1
    assert [r["item"] for r in read_failures(out, "index")] == ["caf\\xe9.mp4"]
    again = run_index(index_config(videos, out, ckpt))
    assert again["videos"] == clips and again["skipped"] == clips and again["embedded"] == 0
