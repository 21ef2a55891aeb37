"""DiDeMo and Charades parsed from the files the field ships (../shared/fixtures; skipped when
absent), and a partial set of annotation files preparing the splits it has."""

from __future__ import annotations

import collections
import csv
import json
import shutil

import pytest

from tvrkit.catalog import read_catalog
from tvrkit.config import load_config
from tvrkit.datasets import charades, didemo
from tvrkit.errors import DataError
from tvrkit.prepare import PrepareConfig, run_prepare


def _didemo_subset(shared_fixtures, tmp_path):
    folder = tmp_path / "annotations"
    folder.mkdir()
    for name in ("val_data.json", "test_data.json"):
        shutil.copy(shared_fixtures / "didemo" / name, folder / name)  # into tmp only, never the project
    return folder


@pytest.mark.shared
@pytest.mark.parametrize(("split", "moments", "names", "videos"),
                         [("val", 4180, 1094, 1065), ("test", 4021, 1037, 1004)])
def test_real_didemo_split_structure(shared_fixtures, tmp_path, split, moments, names, videos):
    """The file names count 1,094 / 1,037, but some videos are listed under two containers
    (``x.mov`` and ``x.mp4``, one Flickr id and download link): 1,065 / 1,004 videos."""
    raw = json.loads((shared_fixtures / "didemo" / f"{split}_data.json").read_text())
    assert len(raw) == moments and len({item["video"] for item in raw}) == names
    links = collections.defaultdict(set)
    for item in raw:
        links[item["video"].rsplit(".", 1)[0]].add(item["dl_link"])
    assert len(links) == videos and all(len(v) == 1 for v in links.values())
    catalog = didemo.parse(_didemo_subset(shared_fixtures, tmp_path))
    rows = catalog.split_captions(split)
    assert len(rows) == videos == len(catalog.split_video_ids(split))  # one paragraph per video
    assert all(caption_id.endswith("#paragraph") for caption_id, _, _ in rows)
    by_video = collections.defaultdict(list)
    for item in raw:
        times = item["times"]  # segment indices of 5 s, end inclusive, averaged over annotators
        start = sum(t[0] for t in times) / len(times) * 5.0
        end = (sum(t[1] for t in times) / len(times) + 1) * 5.0
        by_video[item["video"].rsplit(".", 1)[0]].append((start, end, item["description"].strip()))
    paragraphs = {video: text for _, video, text in rows}
    for video, items in by_video.items():
        ordered = sorted(enumerate(items), key=lambda p: (p[1][0], p[1][1], p[0]))
        assert paragraphs[video] == " ".join(d for _, (_, _, d) in ordered)
    captions = catalog.captions.to_pylist()
    starts = [r["start"] for r in captions if not r["caption_id"].endswith("#paragraph")]
    ends = [r["end"] for r in captions if not r["caption_id"].endswith("#paragraph")]
    assert min(starts) == 0.0 and max(ends) <= 30.0  # seconds: DiDeMo clips are cut at 30 s
    assert all(e > s for s, e in zip(starts, ends, strict=True))


@pytest.mark.shared
def test_real_charades_train_has_every_script(shared_fixtures, tmp_path):
    folder = tmp_path / "annotations"
    folder.mkdir()
    shutil.copy(shared_fixtures / "charades" / "Charades_v1_train.csv", folder)
    catalog = charades.parse(folder)
    with open(shared_fixtures / "charades" / "Charades_v1_train.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 7985 == len(catalog.split_video_ids("train"))
    scripts = {video: text for _, video, text in catalog.split_captions("train")}
    assert scripts == {r["id"]: r["script"].strip() for r in rows}
    assert catalog.split_names() == ["train"]  # the test CSV is not in the fixtures


@pytest.mark.shared
def test_partial_didemo_set_prepares_the_splits_it_has(shared_fixtures, tmp_path, caplog):
    cfg = load_config("prepare", PrepareConfig, base={
        "dataset": "didemo", "root": str(tmp_path / "root"), "skip_videos": True,
        "annotations": str(_didemo_subset(shared_fixtures, tmp_path))})
    summary = run_prepare(cfg)
    assert summary["missing_splits"] == ["train"]
    assert summary["splits"] == {"test": 1004, "val": 1065}
    assert "train_data.json" in caplog.text and "not built" in caplog.text
    catalog = read_catalog(tmp_path / "root")
    with pytest.raises(DataError, match="catalog has no split 'train'; it has: "):
        catalog.split_video_ids("train")


def test_no_annotation_file_at_all_names_every_file(tmp_path):
    with pytest.raises(DataError, match="none of the annotation files train_data.json, val_data.json, test_data.json"):
        didemo.parse(tmp_path)


def test_a_single_file_builds_its_split_and_malformed_rows_stay_errors(tmp_path):
    moment = {"video": "v.mov", "description": "a dog", "times": [[0, 1]]}
    (tmp_path / "test_data.json").write_text(json.dumps([moment]))
    assert didemo.parse(tmp_path).split_names() == ["test"]
    csv_path = tmp_path / "Charades_v1_test.csv"
    csv_path.write_text('id,script\nA1,"a person sits\nB2,b\n', encoding="utf-8")  # quote never closed
    with pytest.raises(DataError, match=r"Charades_v1_test.csv: line 2: cannot read as a table"):
        charades.parse(tmp_path)
    csv_path.write_text("id,script\nA1,a person sits\nB2,\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"Charades_v1_test.csv: line 3 \(B2\): empty script"):
        charades.parse(tmp_path)
