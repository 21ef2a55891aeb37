"""`tvrkit eval` and `tvrkit export` end to end on a tiny generated dataset and a tiny random
model: every output, coarse-to-fine against the full ranking, missing videos, post-processing,
order-pair accuracy, the feature cache and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from eval_testdata import make_checkpoint, make_eval_root
from repo_paths import REPO, TESTS

from tvrkit.cli import cli
from tvrkit.errors import ConfigError, DataError
from tvrkit.eval.config import load_eval_config
from tvrkit.eval.run_eval import run_eval

REQUIRED = {"t2v", "v2t", "n_texts", "n_videos", "post", "ties", "transductive", "missing_videos", "split",
            "checkpoint"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("eval")
    root = make_eval_root(base / "root")
    return root, make_checkpoint(base / "ckpt.pt", root), base


def _eval(checkpoint, out, **options):
    return run_eval(load_eval_config(base={"checkpoint": str(checkpoint), "out": str(out), **options}))


def _ranks(out):
    import pyarrow.parquet as pq

    return pq.read_table(out / "ranks.parquet").to_pylist()


@pytest.mark.slow
def test_eval_writes_every_output(setup):
    root, ckpt, base = setup
    out = base / "full"
    doc = _eval(ckpt, out, report={"samples": 4})
    assert REQUIRED <= set(doc) and set(doc) - REQUIRED == {"protocol"}
    assert json.loads((out / "metrics.json").read_text()) == json.loads(json.dumps(doc))
    assert (doc["n_texts"], doc["n_videos"], doc["missing_videos"], doc["split"]) == (8, 4, 0, "test")
    assert doc["post"] == "none" and doc["transductive"] is False
    c2f = doc["protocol"]["coarse_to_fine"]
    assert c2f["fine_levels"] == ["frame_word"]
    assert c2f["k"] == {"t2v": 4, "v2t": 4}  # no rerank_topk: the fine levels score the whole gallery
    assert set(c2f["global_ranking"]) == {"t2v", "v2t"} and c2f["seconds"]["t2v"]["fine"] >= 0
    rows = _ranks(out)
    t2v = [r for r in rows if r["direction"] == "t2v"]
    assert len(t2v) == 8 and len(rows) == 12
    assert {r["query_id"] for r in t2v} == {f"v00{i}#{c}" for i in range(2, 6) for c in range(2)}
    assert all(sorted(r["top10"]) == ["v002", "v003", "v004", "v005"] for r in rows)
    for name in ("metrics.md", "recall_at_k.png", "rank_histogram.png", "summary.json", "config.resolved.yaml"):
        assert (out / name).is_file(), name
    assert "## Coarse-to-fine" in (out / "metrics.md").read_text()  # both rankings, with their times
    page = (out / "report.html").read_text()
    assert page.count('class="query"') == 4 and "data:image/jpeg;base64," in page
    assert "data:image/png;base64," in page and "global level only" in page


@pytest.mark.slow
def test_coarse_to_fine_with_k_equal_gallery_matches_the_dense_ranking(setup):
    from tvrkit.eval.run_eval import embed
    from tvrkit.retrieval.embed import Embedded  # noqa: F401  (the cached features the runs share)
    from tvrkit.retrieval.metrics import summarize, t2v_problem
    from tvrkit.retrieval.model_source import load_model
    from tvrkit.retrieval.scorer import dense_t2v, model_scorer

    root, ckpt, base = setup
    full = _eval(ckpt, base / "k4", rerank_topk=4)
    top2 = _eval(ckpt, base / "k2", rerank_topk=2)
    assert full["protocol"]["features_cached"] and top2["protocol"]["features_cached"]
    assert top2["protocol"]["coarse_to_fine"]["k"] == {"t2v": 2, "v2t": 2}
    cfg = load_eval_config(base={"checkpoint": str(ckpt)})
    model = load_model(cfg.model_source, "cpu")
    embedded = embed(cfg, model, "cpu", "test")
    sim = dense_t2v(embedded, model_scorer(model, embedded, embedded, "t2v", "cpu"))
    targets = np.array([embedded.split_video_ids.index(v) for v in embedded.caption_video_ids])
    assert full["t2v"] == summarize(t2v_problem(sim, targets).counts(), "mean")
    # the global level alone is what coarse-to-fine starts from, whatever K
    assert full["protocol"]["coarse_to_fine"]["global_ranking"] == top2["protocol"]["coarse_to_fine"]["global_ranking"]


@pytest.mark.slow
def test_missing_videos_stop_the_run_or_rank_last(tmp_path):
    root = make_eval_root(tmp_path / "root", missing=("v004",), test_videos=5)
    ckpt = make_checkpoint(tmp_path / "ckpt.pt", root)
    with pytest.raises(DataError, match="1 videos could not be embedded: v004; --allow-missing"):
        _eval(ckpt, tmp_path / "stop")
    assert not (tmp_path / "stop" / "metrics.json").exists()
    doc = _eval(ckpt, tmp_path / "out", allow_missing=True, report={"enabled": False})
    assert (doc["n_videos"], doc["missing_videos"], doc["n_texts"]) == (5, 1, 10)
    assert doc["protocol"]["missing_video_ids"] == ["v004"]
    rows = _ranks(tmp_path / "out")
    lost = [r for r in rows if r["target_id"] == "v004"]
    assert len(lost) == 3  # its two captions (text->video) and itself as a video->text query
    assert all(r["rank"] == 5 for r in lost)
    assert all("v004" not in r["top10"] for r in rows if r["direction"] == "t2v")  # it has no scores
    assert [r["top10"] for r in lost if r["direction"] == "v2t"] == [[]]


@pytest.mark.slow
def test_post_processing_uses_the_training_captions_unless_transductive(setup):
    root, ckpt, base = setup
    doc = _eval(ckpt, base / "dsl", post="dsl", report={"samples": 2})
    assert doc["post"] == "dsl" and doc["transductive"] is False
    assert doc["protocol"]["querybank"]["t2v"] == {"source": str(base / "dsl" / "bank_sim.npy"), "size": 4,
                                                   "transductive": False}
    assert doc["protocol"]["querybank"]["v2t"] is None  # no video bank: reported unprocessed, and says so
    assert {r["query_id"] for r in _ranks(base / "dsl") if r["direction"] == "t2v"} >= {"v002#0", "v005#1"}
    trans = _eval(ckpt, base / "dsl-t", post="dsl", transductive=True, report={"enabled": False})
    assert trans["transductive"] is True
    assert "Transductive" in (base / "dsl-t" / "metrics.md").read_text()
    with pytest.raises(ConfigError, match="full score matrix"):
        _eval(ckpt, base / "bad", post="dsl", rerank_topk=2)


@pytest.mark.slow
def test_order_pairs_compare_an_order_blind_and_an_order_aware_run(setup, tmp_path):
    root, ckpt, base = setup
    pairs = tmp_path / "pairs.json"
    pairs.write_text(json.dumps({"order_pairs": [["v002", "v003"], ["v004", "v999"]]}))
    first = _eval(ckpt, tmp_path / "meanP", order_pairs=str(pairs), report={"enabled": False})
    result = first["order_pairs"]
    assert (result["n_pairs"], result["n_captions"], result["head"]) == (1, 4, "meanP")
    assert set(result["accuracy"]) == {"frame_word", "total"}
    assert all(0 <= a <= 1 for a in result["accuracy"].values())
    other = make_checkpoint(tmp_path / "seq.pt", root, temporal="seqTransf", fine=False)
    second = _eval(other, tmp_path / "seqTransf", order_pairs=str(pairs), compare=[str(tmp_path / "meanP")],
                   report={"samples": 1})
    assert second["order_pairs"]["head"] == "seqTransf (1 layers)" and "coarse_to_fine" in second["protocol"]
    assert second["protocol"]["coarse_to_fine"]["fine_levels"] == []  # global level only: nothing to re-rank
    page = (tmp_path / "seqTransf" / "report.html").read_text()
    assert "Order-only pairs" in page and ">meanP<" in page and ">seqTransf (1 layers)<" in page


@pytest.mark.slow
def test_cli_eval_and_export(setup, tmp_path):
    from tvrkit.eval.export import TEXTS_FILE, VIDEOS_FILE, read_embeddings

    root, ckpt, base = setup
    runner = CliRunner()
    result = runner.invoke(cli, ["eval", "--checkpoint", str(ckpt), "--out", str(tmp_path / "e"), "--rerank-topk",
                                 "2", "--set", "report.enabled=false"])
    assert result.exit_code == 0, result.output
    assert "| Text→Video |" in result.output and (tmp_path / "e" / "metrics.json").exists()
    result = runner.invoke(cli, ["export", "--checkpoint", str(ckpt), "--out", str(tmp_path / "x")])
    assert result.exit_code == 0, result.output
    ids, videos, meta = read_embeddings(tmp_path / "x" / VIDEOS_FILE)
    assert ids == {"video_id": ["v002", "v003", "v004", "v005"]} and meta["split"] == "test"
    np.testing.assert_allclose(np.linalg.norm(videos, axis=1), 1.0, rtol=1e-5)
    text_ids, texts, _ = read_embeddings(tmp_path / "x" / TEXTS_FILE)
    assert len(texts) == 8 and text_ids["video_id"][0] == "v002" and text_ids["caption"][0]


def test_config_errors_exit_2(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["eval", "--out", str(tmp_path)], standalone_mode=False, catch_exceptions=True)
    assert isinstance(result.exception, ConfigError) and "checkpoint" in str(result.exception)
    result = runner.invoke(cli, ["eval", "--checkpoint", str(tmp_path / "none.pt")], catch_exceptions=True)
    assert isinstance(result.exception, ConfigError) and result.exception.exit_code == 2


@pytest.mark.slow
def test_two_ranks_embed_once_and_give_the_single_process_metrics(setup, tmp_path):
    """`torchrun -m tvrkit eval` with 2 gloo ranks: each embeds its block, rank 0 merges and writes."""
    import os
    import subprocess
    import sys

    from tvrkit.retrieval.store import FeatureStore

    root, ckpt, base = setup
    single = _eval(ckpt, tmp_path / "one", cache_dir=str(tmp_path / "cache1"), report={"enabled": False})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(TESTS)]), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "tvrkit", "-q",
         "eval", "--checkpoint", str(ckpt), "--out", str(tmp_path / "two"), "--set", f"cache_dir={tmp_path / 'cache2'}",
         "--set", "report.enabled=false"],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    double = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert (double["t2v"], double["v2t"]) == (single["t2v"], single["v2t"])
    [one], [two] = (list((tmp_path / c).iterdir()) for c in ("cache1", "cache2"))
    assert one.name == two.name  # same cache key whatever the number of ranks
    for part in ("texts", "videos"):
        a, b = FeatureStore(one / part), FeatureStore(two / part)
        assert a.ids == b.ids
        np.testing.assert_allclose(a.array("global"), b.array("global"), rtol=1e-5, atol=1e-6)


def test_config_defaults_match_the_schema_and_checkpoint_sections_sit_underneath(tmp_path):
    from tvrkit.config import resolve_config, to_dict
    from tvrkit.eval.config import EvalConfig

    resolved = resolve_config("eval", {})
    defaults = to_dict(EvalConfig())
    assert {k: v for k, v in resolved.items() if k not in ("data", "model")} == \
        {k: v for k, v in defaults.items() if k not in ("data", "model")}
    root = tmp_path / "root"  # only named in the checkpoint's config: nothing is read here
    ckpt = make_checkpoint(tmp_path / "ckpt.pt", root)
    yaml_path = tmp_path / "eval.yaml"
    yaml_path.write_text("data:\n  workers: 1\nmodel:\n  drl:\n    temporal:\n      layers: 1\nrerank_topk: 7\n")
    cfg = load_eval_config(yaml_path, ["data.eval_batch_size=3"], {"checkpoint": str(ckpt)})
    assert (cfg.data.root, cfg.data.format, cfg.data.workers, cfg.data.eval_batch_size) == (str(root), "raw", 1, 3)
    assert cfg.model.backbone.arch == "tvrkit-tiny" and cfg.rerank_topk == 7 and cfg.eval_split == "test"
    with pytest.raises(ConfigError, match="rerank_topk"):
        load_eval_config(None, ["rerank_topk=0"], {"checkpoint": str(ckpt)})
