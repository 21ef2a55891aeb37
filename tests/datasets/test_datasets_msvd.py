"""MSVD splits from the real captions and lists in ../shared/fixtures; the tokenised
raw-captions.pkl variant is read without letting a pickle run code."""

from __future__ import annotations

import pickle

import pytest

from tvrkit.datasets.msvd import parse
from tvrkit.errors import DataError


@pytest.mark.shared
def test_real_msvd_split_sizes_with_all_captions(shared_fixtures):
    import json

    catalog = parse(shared_fixtures / "msvd")
    captions = json.loads((shared_fixtures / "msvd" / "captions_msvd.json").read_text())
    sizes = {name: len(catalog.split_video_ids(name)) for name in catalog.split_names()}
    assert sizes == {"train": 1200, "val": 100, "test": 670}
    for name in ("train", "val", "test"):
        expected = sum(len(captions[vid]) for vid in catalog.split_video_ids(name))
        assert len(catalog.split_captions(name)) == expected  # every caption of every video
    assert catalog.captions.num_rows == sum(len(v) for v in captions.values())
    vid = catalog.split_video_ids("test")[0]
    assert [text for _, v, text in catalog.split_captions("test") if v == vid] == captions[vid]


def _lists(folder, train=("vidA",), val=("vidB",), test=("vidB",)):
    for name, ids in (("train", train), ("val", val), ("test", test)):
        (folder / f"{name}_list.txt").write_text("\n".join(ids) + "\n")


def test_raw_captions_pickle_is_detokenised(tmp_path):
    (tmp_path / "raw-captions.pkl").write_bytes(pickle.dumps({"vidA": [["a", "dog", "runs"]], "vidB": [["a", "cat"]]}))
    _lists(tmp_path)
    catalog = parse(tmp_path)
    assert catalog.split_captions("train") == [("vidA#0", "vidA", "a dog runs")]


def test_pickle_that_would_run_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "raw-captions.pkl").write_bytes(pickle.dumps({"vidA": [Evil()]}))
    _lists(tmp_path)
    with pytest.raises(DataError, match="raw-captions.pkl: not a plain caption pickle: refusing .*builtins.print"):
        parse(tmp_path)


def test_malformed_captions_json(tmp_path):
    _lists(tmp_path)
    (tmp_path / "captions_msvd.json").write_text('{"vidA": "not a list"}')
    with pytest.raises(DataError, match="captions_msvd.json: captions of 'vidA' should be a non-empty list"):
        parse(tmp_path)
