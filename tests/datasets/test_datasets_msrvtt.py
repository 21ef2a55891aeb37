"""MSR-VTT protocol splits from the real split CSVs in ../shared/fixtures and a generated
MSRVTT_data.json with the real file's schema (the real one is not in the fixtures)."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import FIXTURES

from tvrkit.datasets.msrvtt import parse
from tvrkit.errors import DataError

CAPTIONS_PER_VIDEO = 3


def _official_split(i: int) -> str:
    return "train" if i < 6513 else "validate" if i < 7010 else "test"


@pytest.fixture(scope="module")
def annotations(tmp_path_factory):
    if not FIXTURES.is_dir():
        pytest.skip("../shared/fixtures not present")
    fixtures = FIXTURES / "msrvtt"
    folder = tmp_path_factory.mktemp("msrvtt") / "msrvtt_data"  # nested, as in the release zip
    folder.mkdir()
    for csv in fixtures.glob("*.csv"):
        shutil.copy(csv, folder / csv.name)
    data = {
        "info": {"year": 2016},
        "videos": [{"category": i % 20, "url": f"https://youtu.be/{i}", "video_id": f"video{i}",
                    "start time": 1.0, "end time": 11.0, "split": _official_split(i), "id": i} for i in range(10000)],
        "sentences": [{"caption": f"clip {i} sentence {k}", "video_id": f"video{i}",
                       "sen_id": i * CAPTIONS_PER_VIDEO + k} for i in range(10000) for k in range(CAPTIONS_PER_VIDEO)],
    }
    (folder / "MSRVTT_data.json").write_text(json.dumps(data))
    return folder.parent


@pytest.fixture(scope="module")
def catalog(annotations):
    return parse(annotations)


@pytest.mark.shared
def test_protocol_split_sizes(catalog):
    sizes = {name: (len(catalog.split_video_ids(name)), len(catalog.split_captions(name)))
             for name in catalog.split_names()}
    assert sizes["train-7k"] == (7010, 7010 * CAPTIONS_PER_VIDEO)
    assert sizes["train-9k"] == (9000, 9000 * CAPTIONS_PER_VIDEO)  # every caption of the 9k videos
    assert sizes["test-1ka"] == (1000, 1000)  # one JSFUSION pair per video
    assert sizes["test-full"] == (2990, 2990 * CAPTIONS_PER_VIDEO)
    assert sizes["train-official"][0] == 6513 and sizes["val-official"][0] == 497


@pytest.mark.shared
def test_test_1ka_keeps_the_jsfusion_pairs_verbatim(catalog, shared_fixtures):
    import csv

    with open(shared_fixtures / "msrvtt" / "MSRVTT_JSFUSION_test.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    pairs = catalog.split_captions("test-1ka")
    assert [(vid, text) for _, vid, text in pairs] == [(r["video_id"], r["sentence"]) for r in rows]
    assert pairs[0][0] == f"{rows[0]['video_id']}#{rows[0]['key']}"
    test_1ka = {vid for _, vid, _ in pairs}
    test_full = set(catalog.split_video_ids("test-full"))
    assert test_1ka <= test_full == {f"video{i}" for i in range(7010, 10000)}
    for train in ("train-7k", "train-9k"):  # 9k = all 10k videos but the 1k-A test videos
        assert not test_1ka & set(catalog.split_video_ids(train))


@pytest.mark.shared
def test_catalog_contents(catalog):
    assert catalog.videos.num_rows == 10000
    assert set(catalog.videos.column("status").to_pylist()) == {"pending"}
    first = catalog.split_captions("train-9k")[0]
    assert first == ("video0#s0", "video0", "clip 0 sentence 0")


def test_malformed_data_json_names_the_file_and_problem(tmp_path):
    for name in ("MSRVTT_train.7k.csv", "MSRVTT_train.9k.csv"):
        (tmp_path / name).write_text("video_id\nvideo0\n")
    (tmp_path / "MSRVTT_JSFUSION_test.csv").write_text("key,vid_key,video_id,sentence\nret0,msr0,video0,a cat\n")
    data = tmp_path / "MSRVTT_data.json"
    data.write_text('{"videos": [{"video_id": "video0"}], "sentences": [{"video_id": "video0", "sen_id": 0}]}')
    with pytest.raises(DataError, match=r"MSRVTT_data\.json: sentences\[0\] has no 'caption' field"):
        parse(tmp_path)
    data.write_text('{"videos": [')
    with pytest.raises(DataError, match=r"MSRVTT_data\.json: not a readable JSON file"):
        parse(tmp_path)
    data.write_text('{"videos": [{"video_id": "video0"}], "sentences": [{"video_id": "video0", "sen_id": 0, '
                    '"caption": "a cat"}]}')
    (tmp_path / "MSRVTT_train.9k.csv").write_text("vid\nvideo0\n")
    with pytest.raises(DataError, match=r"MSRVTT_train\.9k\.csv: missing column\(s\) video_id"):
        parse(tmp_path)
    (tmp_path / "MSRVTT_train.9k.csv").write_text("video_id\nvideo404\n")
    with pytest.raises(DataError, match="names video 'video404', which has no captions"):
        parse(tmp_path)
    (tmp_path / "MSRVTT_train.9k.csv").write_text("video_id\nvideo0\n")
    (tmp_path / "MSRVTT_JSFUSION_test.csv").unlink()
    with pytest.raises(DataError, match="MSRVTT_JSFUSION_test.csv not found"):
        parse(tmp_path)
