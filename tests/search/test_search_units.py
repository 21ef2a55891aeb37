"""Pure parts of search: library planning, moments from per-frame scores, query checks,
query-string decoding, the FAISS index kinds, and the synthetic event windows."""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest

from tvrkit.search.library import SourceFile, plan_update, scan_folder, video_id
from tvrkit.search.query import MAX_K, MAX_QUERY_CHARS, QueryError, check_query, moment_from_scores


def _file(rel: str, size: int = 10, mtime: int = 1) -> SourceFile:
    from pathlib import Path

    return SourceFile(video_id(rel), rel, Path("/lib") / rel, size, mtime)


def test_plan_update_keeps_unchanged_redoes_changed_drops_deleted():
    previous = {video_id(r): {"video_id": video_id(r), "size": 10, "mtime_ns": 1} for r in ("a.mp4", "b.mp4", "c.mp4")}
    scanned = [_file("a.mp4"), _file("b.mp4", size=11), _file("d/e.mp4")]
    plan = plan_update(scanned, previous)
    assert [f.relpath for f in plan.unchanged] == ["a.mp4"]
    assert [f.relpath for f in plan.todo] == ["b.mp4", "d/e.mp4"]
    assert plan.deleted == [video_id("c.mp4")]


def test_scan_folder_recurses_skips_hidden_and_ids_are_stable(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    for rel in ("x.mp4", "sub/y.mov", ".hidden/z.mp4", "sub/.part.mp4"):
        (tmp_path / rel).write_bytes(b"data")
    os.symlink(tmp_path / "missing.mp4", tmp_path / "dangling.mp4")
    found = scan_folder(tmp_path)
    assert [f.relpath for f in found] == ["sub/y.mov", "x.mp4"]
    assert found[1].video_id == video_id("x.mp4") and len(found[1].video_id) == 16
    assert all(c in "0123456789abcdef" for c in found[1].video_id)


def test_moment_grows_around_the_peak_to_the_halfway_score():
    times = [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]
    scores = np.array([0.1, 0.2, 0.8, 0.9, 0.3, 0.1])
    m = moment_from_scores(scores, times, duration=6.0)
    assert (m.start, m.end, m.peak) == (2.0, 4.0, 3.5)  # frames 2-3 score >= 0.5; midpoints bound them
    m = moment_from_scores(np.array([0.9, 0.8, 0.1]), [0.0, 1.0, 2.0], duration=3.0)
    assert (m.start, m.end, m.peak) == (0.0, 1.5, 0.0)  # the first frame's moment starts at 0
    m = moment_from_scores(np.array([0.1, 0.2, 0.7]), [0.0, 1.0, 2.0], duration=2.4)
    assert (m.start, m.end) == (1.5, 2.4)  # the last frame's moment runs to the end
    assert moment_from_scores(np.array([]), [], duration=4.0).end == 4.0


@pytest.mark.parametrize(("text", "k"), [("", 5), ("   ", 5), ("x" * (MAX_QUERY_CHARS + 1), 5), (None, 5),
                                         ("dog", 0), ("dog", MAX_K + 1), ("dog", True), ("dog", "3")])
def test_bad_queries_are_refused(text, k):
    with pytest.raises(QueryError):
        check_query(text, k)


def test_good_query_is_stripped():
    assert check_query("  a dog  ", 3) == ("a dog", 3)


def test_query_string_is_strict_utf8():
    from tvrkit.search.server import BadRequest, parse_query_string

    assert parse_query_string(b"q=a+red+circle&k=3&q=second") == {"q": "a red circle", "k": "3"}
    assert parse_query_string(b"q=%C3%A9t%C3%A9") == {"q": "été"}
    with pytest.raises(BadRequest):
        parse_query_string(b"q=%FF%FE")


def test_faiss_kinds_agree_with_exact_search_and_survive_a_round_trip(tmp_path):
    from tvrkit.search.faiss_index import IndexParams, VectorIndex, build_index

    rng = np.random.default_rng(0)
    # clustered unit vectors, like embeddings: approximate indexes find the exact neighbours
    centres = rng.standard_normal((50, 64))
    x = (centres[rng.integers(0, 50, 10000)] + 0.3 * rng.standard_normal((10000, 64))).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    queries = x[:50] + 0.05 * rng.standard_normal((50, 64)).astype(np.float32)
    exact = np.argsort(-(queries @ x.T), axis=1)[:, :10]
    params = IndexParams(pq_m=16, nprobe=16)
    for kind in ("flat", "ivf-pq", "hnsw"):
        index = build_index(x, kind, params, chunk=4000)
        scores, rows = index.search(queries, 10)
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(rows, exact, strict=True)])
        assert recall >= (1.0 if kind == "flat" else 0.9), kind
        assert np.all(np.diff(scores, axis=1) <= 1e-6), "best first"
        index.save(tmp_path / f"{kind}.faiss")
        again = VectorIndex.load(tmp_path / f"{kind}.faiss", kind, params)
        assert np.array_equal(again.search(queries, 10)[1], rows)


def test_ivf_pq_refuses_a_library_too_small_to_train():
    from tvrkit.search.faiss_index import build_index

    with pytest.raises(ValueError, match="flat index"):
        build_index(np.eye(64, dtype=np.float32), "ivf-pq")


def test_event_windows_follow_the_synthetic_specs(tmp_path):
    from tvrkit.datasets.synthetic import META_FILE, WINDOWS
    from tvrkit.datasets.synthetic_spec import make_specs
    from tvrkit.search.synthetic import event_windows

    specs = make_specs(4, seed=1)
    (tmp_path / META_FILE).parent.mkdir(parents=True)
    (tmp_path / META_FILE).write_text(json.dumps({"videos": [dataclasses.asdict(s) for s in specs]}))
    windows = event_windows(tmp_path)
    spec = specs[1]
    (p0, lo0, hi0), (p1, lo1, hi1) = windows[spec.video_id]
    assert (p0, p1) == tuple(e.phrase() for e in spec.events)
    assert (lo0, hi0, lo1, hi1) == pytest.approx([f * spec.duration for w in WINDOWS for f in w])


def test_model_spec_resolves_a_shipped_config_name(tmp_path, monkeypatch):
    from tvrkit.search.config import model_spec

    monkeypatch.chdir(tmp_path)  # no demo file here: the name is the shipped config's
    spec = model_spec(None, "demo")
    assert spec["checkpoint"] is None and spec["model_config"].endswith("tvrkit/configs/demo.yaml")
