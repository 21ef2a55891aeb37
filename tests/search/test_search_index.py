"""``tvrkit index`` and ``tvrkit search`` end to end on real generated videos: the same top-1 as
``tvrkit eval`` on the synthetic test split, incremental re-indexing with a corrupt file, the
model-identity guard, and the CLI."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from search_testdata import index_config, small_library
from shard_testdata import make_video

from tvrkit.errors import ConfigError
from tvrkit.search import open_index
from tvrkit.search.index import FEATURES, STORE, run_index


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    base = tmp_path_factory.mktemp("library")
    videos, ckpt, out = small_library(base)
    return base, videos, ckpt, out


@pytest.mark.slow
def test_search_returns_evals_top1_for_every_caption_of_the_synthetic_test_split(tmp_path):
    from eval_testdata import make_checkpoint

    from tvrkit.eval.config import load_eval_config
    from tvrkit.eval.run_eval import run_eval
    from tvrkit.media.compress import CompressConfig
    from tvrkit.prepare import PrepareConfig, run_prepare
    from tvrkit.search.synthetic import link_split, moment_accuracy, top1_agreement

    root = tmp_path / "synthetic"
    run_prepare(PrepareConfig(dataset="synthetic", root=str(root), videos=10, seed=2,
                              compress=CompressConfig(workers=2)))
    ckpt = make_checkpoint(tmp_path / "ckpt.pt", root, temporal="seqTransf", fine=True)
    run_eval(load_eval_config(base={"checkpoint": str(ckpt), "out": str(tmp_path / "eval"), "plots": False,
                                    "report": {"enabled": False}, "cache_dir": str(tmp_path / "cache")}))
    test_ids = link_split(root, "test", tmp_path / "videos")
    summary = run_index(index_config(tmp_path / "videos", tmp_path / "index", ckpt, compress={"workers": 2}))
    assert summary["videos"] == len(test_ids) == 4 and summary["failed"] == 0
    index = open_index(tmp_path / "index")
    agreement = top1_agreement(index, tmp_path / "eval", root)  # fine levels re-score the whole library, as eval
    assert agreement["captions"] == 3 * len(test_ids)
    assert agreement["rate"] == 1.0, agreement["differ"]
    moments = moment_accuracy(index, root)
    assert moments["events"] == 2 * len(test_ids)
    assert 0.0 <= moments["inside_window"] <= moments["centre_in_window"] <= 1.0


def test_search_hits_have_scores_in_order_and_moments_inside_the_clip(library):
    _, _, _, out = library
    index = open_index(out)
    result = index.search("clip 3 caption 0 hue 111", k=4)
    assert len(result.hits) == 4 and result.reranked == len(index) == 6
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=True)
    for hit in result.hits:
        assert 0.0 <= hit.moment.start <= hit.moment.peak <= hit.moment.end <= hit.duration + 1e-6
        assert index.clip_path(hit.video_id).is_file() and index.strip_path(hit.video_id).is_file()
    global_only = index.search("clip 3 caption 0 hue 111", k=4, rerank_topk=1)
    assert global_only.hits[0].global_score == max(h.global_score for h in global_only.hits)


def test_reindex_embeds_only_new_files_drops_deleted_and_records_corrupt(tmp_path):
    from tvrkit.retrieval.store import FeatureStore
    from tvrkit.runlog import read_failures

    videos, ckpt, out = small_library(tmp_path)
    index = open_index(out)
    before = {r["relpath"]: r["video_id"] for r in index.rows}
    store = FeatureStore(out / FEATURES / STORE)
    old_frames = {vid: np.asarray(store.array("frames")[i]) for i, vid in enumerate(store.ids)}
    (videos / "v001.mp4").unlink()
    for n, name in enumerate(("new/a.mp4", "new/b.mp4", "c.mp4")):
        make_video(videos / name, 2 + n, hue=40 * n + 13)
    (videos / "broken.mp4").write_bytes(b"\x00not a video\x00" * 64)
    summary = run_index(index_config(videos, out, ckpt))
    assert (summary["embedded"], summary["skipped"], summary["deleted"], summary["failed"]) == (3, 5, 1, 1)
    assert [f["item"] for f in read_failures(out, "index")] == ["broken.mp4"]
    index = open_index(out)
    names = [r["relpath"] for r in index.rows]
    assert names == ["c.mp4", "new/a.mp4", "new/b.mp4", "v000.mp4", "v002.mp4", "v003.mp4", "v004.mp4", "v005.mp4"]
    store = FeatureStore(out / FEATURES / STORE)
    for i, vid in enumerate(store.ids):
        if vid in old_frames:  # unchanged videos keep their features, byte for byte
            assert np.array_equal(np.asarray(store.array("frames")[i]), old_frames[vid])
    assert not (out / "compressed" / f"{before['v001.mp4']}.mp4").exists()
    again = run_index(index_config(videos, out, ckpt))
    assert (again["embedded"], again["skipped"], again["failed"]) == (0, 8, 1)


def test_an_index_refuses_another_model(library, tmp_path):
    from eval_testdata import make_checkpoint

    base, videos, _, out = library
    other = make_checkpoint(tmp_path / "other.pt", base / "root", temporal="seqTransf", seed=1)
    with pytest.raises(ConfigError, match="was built with model"):
        open_index(out, checkpoint=str(other))
    copy = tmp_path / "index"
    shutil.copytree(out, copy)
    summary = run_index(index_config(videos, copy, other))  # another model: everything is embedded again
    assert summary["embedded"] == summary["videos"] == 6
    assert open_index(copy, checkpoint=str(other)).search("clip", 1).hits


def test_an_ivf_pq_index_of_a_tiny_library_is_a_config_error(library, tmp_path):
    _, videos, ckpt, _ = library
    with pytest.raises(ConfigError, match="index_type ivf-pq: .*flat index"):
        run_index(index_config(videos, tmp_path / "ivf", ckpt, index_type="ivf-pq"))


def test_cli_index_and_search(library, tmp_path, capsys):
    from tvrkit.cli import main

    _, videos, ckpt, out = library
    main(["-q", "index", "--videos", str(videos), "--out", str(tmp_path / "idx"), "--checkpoint", str(ckpt),
          "--set", "compress.size=48", "--set", "loader_workers=0"])
    capsys.readouterr()
    main(["search", str(tmp_path / "idx"), "a clip", "--k", "2", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["query"] == "a clip" and [r["rank"] for r in doc["results"]] == [1, 2]
    assert str(tmp_path) not in json.dumps(doc)  # names are relative to the indexed folder
    with pytest.raises(SystemExit) as exit_info:
        main(["search", str(out), "   "])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["index", "--videos", str(tmp_path / "absent"), "--out", str(tmp_path / "x"), "--checkpoint", str(ckpt)])
    assert exit_info.value.code == 2
