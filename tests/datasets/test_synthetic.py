"""The synthetic dataset: deterministic, compositional, with order-only pairs."""

from __future__ import annotations

import json

import decord
import numpy as np
import pytest

from tvrkit.catalog import read_catalog, write_catalog
from tvrkit.datasets.synthetic import generate_synthetic, render_frames
from tvrkit.datasets.synthetic_spec import make_specs, split_of


def test_specs_are_deterministic_and_varied():
    a, b = make_specs(40, seed=7), make_specs(40, seed=7)
    assert a == b
    assert make_specs(40, seed=8) != a
    assert {(s.width > s.height, s.width < s.height) for s in a} >= {(True, False), (False, True)}  # incl. portrait
    assert all(25 <= s.fps <= 30 and 3 <= s.duration <= 8 for s in a)
    assert all(len(set(s.captions())) >= 2 for s in a)


def test_order_only_pairs_differ_only_in_order():
    specs = make_specs(6, seed=1)
    for first, second in zip(specs[0::2], specs[1::2], strict=True):
        assert first.group == second.group and first.video_id[:-1] == second.video_id[:-1]
        assert first.events == tuple(reversed(second.events))
        a, b = first.captions()[0], second.captions()[0]
        assert a != b and sorted(a.replace(",", "").split()) == sorted(b.replace(",", "").split())
        assert split_of(first.group, 1) == split_of(second.group, 1)


def test_pair_frames_are_the_same_bag_of_frames():
    first, second = make_specs(2, seed=4)
    fa, fb = render_frames(first), render_frames(second)
    assert fa.shape == fb.shape and not np.array_equal(fa, fb)
    # Same frames, other order: an order-blind mean over frames cannot tell them apart.
    np.testing.assert_allclose(fa.astype(np.float64).mean(0), fb.astype(np.float64).mean(0), atol=2.0)


@pytest.mark.slow
def test_generation_is_deterministic_and_playable(tmp_path):
    cat_a = generate_synthetic(tmp_path / "a", 6, seed=3, workers=2)
    cat_b = generate_synthetic(tmp_path / "b", 6, seed=3, workers=1)
    assert cat_a.captions.equals(cat_b.captions) and cat_a.splits.equals(cat_b.splits)
    for row in cat_a.videos.to_pylist():
        other = tmp_path / "b" / "raw_videos" / f"{row['video_id']}.mp4"
        va, vb = decord.VideoReader(row["source"]), decord.VideoReader(str(other))
        assert len(va) == len(vb) > 0
        assert np.array_equal(va.get_batch(range(len(va))).asnumpy(), vb.get_batch(range(len(vb))).asnumpy())
    meta = json.loads((tmp_path / "a" / "raw" / "synthetic.json").read_text())
    assert len(meta["order_pairs"]) == 3
    write_catalog(tmp_path / "a", cat_a)
    assert read_catalog(tmp_path / "a").split_names()
