"""model.method: eercf against the official EERCF code (adxcreative/EERCF at 90f1d07).

The fixtures in tests/fixtures/methods/eercf were written by the official code, run outside tvrkit:

    PYTHONPATH=/work/ref/EERCF:/work/refpkgs/eercf .venv/bin/python /work/ref/eercf/make_golden.py \\
        tests/fixtures/methods/eercf

(``make_golden.py`` builds the official XCLIP of modules/modeling_fineclip_patches_cdcl.py for a seeded
random tiny CLIP, saves its ``state_dict()`` as main_eercf.save_model does — ``pytorch_model.bin.0``,
CLIP towers in fp16 — and runs main_eercf.eval_epoch / _run_on_single_gpu / train_epoch in fp32 on
CPU.) ``golden.pt`` holds the official partial score matrices, the final matrices eval_epoch ranks
by with ``--rerantopk`` 8 (the whole gallery) and 3, and the training loss of the 8 pairs.
The tiny architecture (1 attention head, as the official code derives heads from width // 64; vocab
1000, context 16) is the test-only open_clip config ``eercf-tiny.json`` next to them. Texts have 3-16
tokens; videos 0-4 have all 6 frames, videos 5-7 have 3, 2 and 1 (zero-padded as the official loader does).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import open_clip
import pytest
import torch
from repo_paths import FIXTURES

from tvrkit.errors import ConfigError
from tvrkit.models import load_checkpoint
from tvrkit.models.checkpoints import read_checkpoint
from tvrkit.models.methods.eercf.model import EERCF
from tvrkit.retrieval.coarse_fine import coarse_t2v, final_top, fine_rerank, union_item_scorer

FIXTURES = FIXTURES / "methods" / "eercf"
FULL = 5  # videos 0..4 have every frame
TOL = 1e-4


def _config(padding: str = "masked", temporal: str = "seqTransf") -> dict:
    open_clip.add_model_config(FIXTURES / "eercf-tiny.json")
    return {"method": "eercf", "backbone": {"name": "eercf-tiny"},
            "eercf": {"temporal": {"type": temporal, "layers": 2}, "max_frames": 6, "padding": padding}}


@pytest.fixture(scope="module")
def golden() -> dict:
    return torch.load(FIXTURES / "golden.pt")


@pytest.fixture(scope="module")
def inputs() -> dict:
    data = torch.load(FIXTURES / "inputs.pt")
    data["frames"] = data["frames"].float()
    return data


def _model(padding: str):
    return load_checkpoint(FIXTURES / "pytorch_model.bin.0", config=_config(padding))


@torch.inference_mode()
def _features(model, inputs):
    return model.encode_text(inputs["tokens"]), model.encode_video(inputs["frames"], inputs["video_mask"])


@torch.inference_mode()
def _scores(model, inputs) -> dict:
    return model.score(*_features(model, inputs))


@torch.inference_mode()
def _global(model, features) -> torch.Tensor:
    return model.global_embeddings(features)


@pytest.fixture(scope="module")
def official(inputs):
    model = _model("official")
    return model, _scores(model, inputs)


def _close(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    span = float(theirs.max() - theirs.min())
    assert float((ours - theirs).abs().max()) <= TOL * span
    assert torch.equal(torch.argsort(ours, dim=1, descending=True), torch.argsort(theirs, dim=1, descending=True))


@pytest.mark.parametrize("name", ["coarse", "video", "weak_frame", "strong_frame", "weak_patch"])
def test_partial_scores_equal_official(official, golden, name):
    _close(official[1][name], golden[name])


def test_total_is_the_official_second_stage(official, golden):
    # eval_epoch with --rerantopk = gallery size: every entry is 100 + the hard-coded fusion
    _close(official[1]["total"] + 100.0, golden["final_k8"])


def test_masked_padding_equals_official_on_full_videos_only(golden, inputs):
    model = _model("masked")
    scores = _scores(model, inputs)
    for name in ("coarse", "total"):
        _close(scores[name][:, :FULL], golden[name if name == "coarse" else "final_k8"][:, :FULL]
               - (0.0 if name == "coarse" else 100.0))
    # the video-level mean is masked in both; the softmaxes over frames and patches are not officially
    assert torch.allclose(scores["coarse"], golden["coarse"], atol=TOL * float(golden["coarse"].abs().max()))
    short = (scores["total"][:, FULL:] - (golden["final_k8"][:, FULL:] - 100.0)).abs().max()
    assert short > TOL * float(golden["final_k8"].max() - golden["final_k8"].min())


def test_two_stage_ranking_equals_official_rerank(official, golden, inputs):
    model, scores = official
    text, video = _features(model, inputs)
    n_videos = len(video)
    targets = np.arange(len(text))
    coarse = coarse_t2v(_global(model, text), _global(model, video), targets, n_videos, n_videos)

    def matrix(queries, rows):
        return {name: m[queries][:, rows] for name, m in scores.items()}

    for k, final in ((3, golden["final_k3"]), (n_videos, golden["final_k8"])):
        fine = fine_rerank(coarse, targets, union_item_scorer(matrix), k)
        official_order = torch.argsort(final, dim=1, descending=True)
        assert torch.equal(final_top(coarse, fine, n_videos), official_order)
    # K = the gallery size is the same ranking as scoring every pair with total
    assert torch.equal(final_top(coarse, fine, n_videos), torch.argsort(scores["total"], dim=1, descending=True))


def test_global_embeddings_give_the_coarse_score(official, inputs):
    model, scores = official
    text, video = _features(model, inputs)
    dots = _global(model, text) @ _global(model, video).T
    scale = float(model.logit_scale().detach())
    assert torch.allclose(dots * scale, scores["coarse"], atol=1e-5 * float(scores["coarse"].abs().max()))
    assert torch.allclose(_global(model, video).norm(dim=-1), torch.ones(len(video)))


def test_loss_equals_official(golden, inputs):
    model = _model("official").train()
    loss, parts = model(inputs["tokens"], inputs["frames"], inputs["video_mask"])
    assert float(loss) == pytest.approx(float(golden["loss"]), rel=1e-5)
    cdcl = float(golden["train_cdcl_video"] + golden["train_cdcl_frame"])  # official cdcl weights 1, 1, 0
    assert parts["loss/cdcl"] == pytest.approx(cdcl, rel=1e-5)
    loss.backward()
    assert model.global_weight.grad is not None and model.backbone.clip.logit_scale.grad is not None


def test_strong_patch_terms_when_weighted(golden, inputs):
    cfg = _config("official")
    cfg["eercf"].update(strong_patch_weight=1.0, cdcl_patch_weight=1.0, cdcl_video_weight=0.0,
                        cdcl_frame_weight=0.0)
    model = load_checkpoint(FIXTURES / "pytorch_model.bin.0", config=cfg).train()
    _, parts = model(inputs["tokens"], inputs["frames"], inputs["video_mask"])
    assert parts["loss/cdcl"] == pytest.approx(float(golden["train_cdcl_patch"]), rel=1e-5)


def test_checkpoint_signature_and_config_errors():
    state = read_checkpoint(FIXTURES / "pytorch_model.bin.0").state
    assert EERCF.looks_like(state)
    assert not EERCF.looks_like({k: v for k, v in state.items() if k != "global_mat_weight"})
    with pytest.raises(ConfigError, match="seqTransf"):
        load_checkpoint(FIXTURES / "pytorch_model.bin.0", config=_config(temporal="meanP"))
    model = _model("masked")
    with pytest.raises(ValueError, match="max_frames"):
        model.encode_video(torch.zeros(1, 7, 3, 32, 32), torch.ones(1, 7, dtype=torch.bool))


@pytest.mark.slow
def test_eval_ranks_by_coarse_and_reranks_the_methods_top_k(tmp_path):
    """`tvrkit eval` with model.method eercf (a tiny random model in the trainer's checkpoint format)."""
    from eval_testdata import DATA, make_eval_root

    from tvrkit.config import to_dict
    from tvrkit.eval.config import load_eval_config
    from tvrkit.eval.run_eval import rerank_k, run_eval
    from tvrkit.models import build_model
    from tvrkit.models.config import load_model_config

    root = make_eval_root(tmp_path / "root")
    cfg = load_model_config(base={"method": "eercf", "backbone": {"arch": "tvrkit-tiny"},
                                  "eercf": {"temporal": {"type": "seqTransf", "layers": 1}, "max_frames": 4}})
    torch.manual_seed(0)
    model = build_model(cfg)
    ckpt = tmp_path / "ckpt.pt"
    torch.save({"model": model.state_dict(), "config": {"data": {**DATA, "root": str(root)}, "model": to_dict(cfg)}},
               ckpt)
    default = load_eval_config(base={"checkpoint": str(ckpt), "out": str(tmp_path / "default"),
                                     "report": {"enabled": False}})
    assert rerank_k(default, model) == 50 and rerank_k(dataclasses.replace(default, rerank_topk=2), model) == 2
    doc = run_eval(default)
    c2f = doc["protocol"]["coarse_to_fine"]
    assert c2f["k"] == {"t2v": 4, "v2t": 4}  # K = 50 capped at the 4 videos: every pair re-ranked by total
    assert c2f["coarse_level"].startswith("coarse") and c2f["fine_levels"] == list(model.score_names)
    assert "## Coarse-to-fine" in (tmp_path / "default" / "metrics.md").read_text()
    two = run_eval(load_eval_config(base={"checkpoint": str(ckpt), "out": str(tmp_path / "k2"), "rerank_topk": 2,
                                          "report": {"enabled": False}}))
    assert two["protocol"]["coarse_to_fine"]["k"]["t2v"] == 2
    assert two["protocol"]["coarse_to_fine"]["global_ranking"] == c2f["global_ranking"]  # the same coarse stage


def test_bench_two_stage_with_k_covering_the_gallery_is_the_every_pair_ranking(tmp_path):
    """benchmarks.eercf's problem and rankings, small and in this process."""
    from benchmarks.coarse_fine import _measure
    from benchmarks.eercf import Case, _write_problem, build, report

    threads = torch.get_num_threads()
    case = Case(videos=40, texts=12, k=40, frames=4, patches=4)
    try:
        _write_problem(case, tmp_path)
        model = build(case)
        covering, full, top5 = (_measure(case, tmp_path, k, lambda _case: model) for k in (case.k, None, 5))
    finally:
        torch.set_num_threads(threads)
    assert covering["metrics"] == full["metrics"] and covering["k"] == full["k"] == 40
    assert top5["k"] == 5 and top5["global_metrics"] == full["global_metrics"]
    runs = {"two-stage": top5, "every pair by total": full}
    text = report({"case": dataclasses.asdict(case), "generation_seconds": 0.0, "runs": runs})
    assert "two-stage (K = 5) vs every pair by total" in text and "| coarse only |" in text
