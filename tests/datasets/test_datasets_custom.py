"""Your own captions file: CSV or JSONL, explicit splits or a deterministic test fraction
of whole videos, optional moment times, and clear errors."""

from __future__ import annotations

import json

import pytest

from tvrkit.datasets.custom import parse_captions
from tvrkit.errors import ConfigError, DataError


def test_csv_with_splits_and_times(tmp_path):
    path = tmp_path / "captions.csv"
    path.write_text('video_id,caption,split,start,end\nclip one,"a cat, sleeping",train,0,2.5\n'
                    "clip one,a cat naps,train,,\nclïp2,a dog,test,1,3\n", encoding="utf-8")
    catalog = parse_captions(path)
    assert catalog.split_captions("train") == [("clip one#0", "clip one", "a cat, sleeping"),
                                               ("clip one#1", "clip one", "a cat naps")]
    assert catalog.split_video_ids("test") == ["clïp2"]
    rows = {r["caption_id"]: (r["start"], r["end"]) for r in catalog.captions.to_pylist()}
    assert rows == {"clip one#0": (0.0, 2.5), "clip one#1": (None, None), "clïp2#0": (1.0, 3.0)}


def test_jsonl_test_fraction_assigns_whole_videos_deterministically(tmp_path):
    path = tmp_path / "captions.jsonl"
    lines = [json.dumps({"video_id": f"v{i}", "caption": f"caption {k} of {i}"}) for i in range(200) for k in range(2)]
    path.write_text("\n".join(lines) + "\n")
    catalog = parse_captions(path, test_fraction=0.25)
    test, train = set(catalog.split_video_ids("test")), set(catalog.split_video_ids("train"))
    assert not test & train and len(test | train) == 200
    assert 30 <= len(test) <= 70  # about a quarter, by a hash of the id
    assert all(vid in test for _, vid, _ in catalog.split_captions("test"))  # both captions follow the video
    assert set(parse_captions(path, test_fraction=0.25).split_video_ids("test")) == test  # same on every run
    assert parse_captions(path).split_names() == ["train"]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("c.csv", "video,text\nv,c\n", r"c\.csv: missing column\(s\) video_id, caption"),
        ("c.csv", "video_id,caption,start\nv,c,soon\n", r"c\.csv: line 2: start 'soon' is not a number"),
        ("c.csv", "video_id,caption,split\nv,c,train\nw,d,\n", r"line 3: empty split"),
        ("c.csv", "video_id,caption\nv/../../x,c\n", r"invalid video id"),
        ("c.jsonl", '{"video_id": "v"}\n', r"c\.jsonl: line 1 has no caption"),
        ("c.jsonl", '{"video_id": "v", "caption": "x"}\nnot json\n', r"c\.jsonl: line 2 is not JSON"),
    ],
)
def test_malformed_captions_files(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        parse_captions(path)


def test_missing_captions_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        parse_captions(tmp_path / "nope.csv")
