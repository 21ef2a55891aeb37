"""DiDeMo, ActivityNet, LSMDC, VATEX and Charades parsers on small files in the real
formats: paragraph retrieval joins a video's captions in time order, protocol splits
come out right, and a malformed file is an error naming the file and the problem."""

from __future__ import annotations

import json

import pytest

from tvrkit.datasets import activitynet, charades, didemo, lsmdc, vatex
from tvrkit.errors import DataError


def _write(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj), encoding="utf-8")


def test_didemo_paragraphs_in_time_order(tmp_path):
    folder = tmp_path / "data"  # files may sit in a subfolder of what --annotations points at
    _write(folder / "train_data.json", [
        {"video": "123@N00_456.mov", "description": "then she waves", "times": [[2, 2], [2, 3]], "annotation_id": 1},
        {"video": "123@N00_456.mov", "description": "a girl walks in", "times": [[0, 0], [0, 1]], "annotation_id": 2},
        {"video": "789.mp4", "description": "a dog", "times": [[1, 1]], "annotation_id": 3},
    ])
    _write(folder / "val_data.json", [{"video": "v2.avi", "description": "rain", "times": [[0, 5]]}])
    _write(folder / "test_data.json", [{"video": "v3.m4v", "description": "snow", "times": [[3, 3]]}])
    catalog = didemo.parse(tmp_path)
    assert catalog.split_captions("train") == [
        ("123@N00_456#paragraph", "123@N00_456", "a girl walks in then she waves"),
        ("789#paragraph", "789", "a dog"),
    ]
    assert catalog.split_video_ids("val") == ["v2"] and catalog.split_video_ids("test") == ["v3"]
    rows = {r["caption_id"]: r for r in catalog.captions.to_pylist()}
    assert (rows["123@N00_456#0"]["start"], rows["123@N00_456#0"]["end"]) == (10.0, 17.5)  # mean of annotators
    assert (rows["123@N00_456#paragraph"]["start"], rows["123@N00_456#paragraph"]["end"]) == (0.0, 17.5)
    _write(folder / "val_data.json", [{"video": "v2.avi", "description": "rain", "times": []}])
    with pytest.raises(DataError, match=r"val_data\.json: entry 0: 'times' should be a non-empty list"):
        didemo.parse(tmp_path)


def test_activitynet_paragraphs_and_file_names(tmp_path):
    _write(tmp_path / "train.json", {
        "v_abc": {"duration": 30.0, "timestamps": [[12.0, 20.0], [0.5, 11.0]],
                  "sentences": ["He jumps.", "A man runs."]},
    })
    _write(tmp_path / "val_1.json", {"v_xyz": {"duration": 9.0, "timestamps": [[0, 9]], "sentences": ["Rain."]}})
    catalog = activitynet.parse(tmp_path)
    assert catalog.split_captions("train") == [("v_abc#paragraph", "v_abc", "A man runs. He jumps.")]
    assert catalog.split_video_ids("test") == ["v_xyz"]
    assert activitynet.DATASET.file_stems("v_abc") == ("v_abc", "abc")
    _write(tmp_path / "val_1.json", {"v_xyz": {"duration": 9.0, "timestamps": [[0, 9]], "sentences": []}})
    with pytest.raises(DataError, match=r"val_1\.json: video 'v_xyz' has 1 timestamps but 0 sentences"):
        activitynet.parse(tmp_path)


def test_lsmdc_splits_and_tab_format(tmp_path):
    row = "0001_Movie_00.00.01.000-00.00.02.000\t00:00:01\t00:00:02\t00:00:01\t00:00:02\t{}\n"
    clip = "0001_Movie_00.00.01.000-00.00.02.000"
    _write(tmp_path / "LSMDC16_annos_training.csv", row.format("SOMEONE sits.") + row.format("He smiles."))
    _write(tmp_path / "LSMDC16_annos_val.csv", row.replace("0001", "0002").format("She leaves."))
    _write(tmp_path / "LSMDC16_challenge_1000_publictect.csv", row.replace("0001", "0003").format('A "door".'))
    catalog = lsmdc.parse(tmp_path)
    assert [c for _, _, c in catalog.split_captions("train")] == ["SOMEONE sits.", "He smiles."]
    assert catalog.split_captions("test-1000") == [(f"0003{clip[4:]}#0", f"0003{clip[4:]}", 'A "door".')]
    _write(tmp_path / "LSMDC16_annos_val.csv", "only\ttwo\n")
    with pytest.raises(DataError, match=r"LSMDC16_annos_val\.csv: line 1 has 2 fields, expected 6"):
        lsmdc.parse(tmp_path)
    assert lsmdc.DATASET.sources == ()  # needs MPII permission: --annotations only


def test_vatex_files_or_hgr_lists(tmp_path):
    _write(tmp_path / "vatex_training_v1.0.json", [{"videoID": "a_000001_000011", "enCap": ["one", "two"],
                                                    "chCap": ["一"]}])
    _write(tmp_path / "vatex_validation_v1.0.json", [{"videoID": "b_000002_000012", "enCap": ["three"]},
                                                      {"videoID": "c_000003_000013", "enCap": ["four"]}])
    catalog = vatex.parse(tmp_path)
    assert [c for _, _, c in catalog.split_captions("train")] == ["one", "two"]  # English only
    assert catalog.split_video_ids("val") == ["b_000002_000012", "c_000003_000013"]
    for name, ids in (("train", ["a_000001_000011"]), ("val", ["b_000002_000012"]), ("test", ["c_000003_000013"])):
        _write(tmp_path / f"{name}_list.txt", "\n".join(ids))
    catalog = vatex.parse(tmp_path)
    assert catalog.split_names() == ["test", "train", "val"]
    assert catalog.split_captions("test") == [("c_000003_000013#0", "c_000003_000013", "four")]
    _write(tmp_path / "vatex_training_v1.0.json", [{"videoID": "a", "enCap": []}])
    with pytest.raises(DataError, match=r"vatex_training_v1\.0\.json: entry 0 \(a\): 'enCap' should be"):
        vatex.parse(tmp_path)


def test_charades_scripts(tmp_path):
    header = "id,subject,scene,quality,relevance,verified,script,objects,descriptions,actions,length\n"
    _write(tmp_path / "Charades" / "Charades_v1_train.csv",
           header + '46GP8,HR43,Kitchen,6,7,Yes,"A person cooks, then eats.",food,desc,c092 11.9 21.2,24.8\n')
    _write(tmp_path / "Charades" / "Charades_v1_test.csv", header + "YSKX3,HR43,Bedroom,6,7,Yes,Sleeping.,bed,d,,30\n")
    catalog = charades.parse(tmp_path)
    assert catalog.split_captions("train") == [("46GP8#0", "46GP8", "A person cooks, then eats.")]
    assert catalog.split_video_ids("test") == ["YSKX3"]
    _write(tmp_path / "Charades" / "Charades_v1_test.csv", "id,scene\nYSKX3,Bedroom\n")
    with pytest.raises(DataError, match=r"Charades_v1_test\.csv: missing column\(s\) script"):
        charades.parse(tmp_path)
