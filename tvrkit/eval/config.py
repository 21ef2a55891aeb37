"""The configs of the stages in ``tvrkit.eval``, in one place: :class:`EvalConfig` (``tvrkit eval`` and
``tvrkit export``, ``schemas/eval.schema.json``) and :class:`MetricsConfig` (``tvrkit metrics``).

An eval config's data and model sections default to the ones the model was trained with (stored in
the checkpoint, or of the train config of an untrained model: :mod:`tvrkit.retrieval.model_source`);
keys given in the eval config win. A cross-key problem is a :class:`ConfigError` before any work.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from tvrkit.config import apply_overrides, load_config, merge, option, read_yaml, resolve_config_path
from tvrkit.data.config import DataConfig
from tvrkit.errors import ConfigError
from tvrkit.models.config import ModelConfig
from tvrkit.retrieval.metrics import V2T_MODES, check_ties
from tvrkit.retrieval.model_source import ModelSource, stored_sections
from tvrkit.retrieval.postprocess import BANKLESS, POSTPROCESSORS, chosen_params

SCHEMA = "eval"


@dataclass(frozen=True)
class PostParams:
    dsl_temperature: float = option(100.0, "DSL softmax temperature.", exclusive_minimum=0)
    sk_iters: int = option(4, "SK-norm Sinkhorn-Knopp iterations.", minimum=1)
    sk_temperature: float | None = option(None, "SK-norm: divide scores by this first (null: as given).",
                                          exclusive_minimum=0)
    qb_beta: float = option(20.0, "QB-Norm inverse temperature.", exclusive_minimum=0)
    qb_k: int = option(1, "QB-Norm: a bank query activates its top-k gallery items.", minimum=1)


@dataclass(frozen=True)
class ReportConfig:
    enabled: bool = option(True, "Write report.html.")
    samples: int = option(8, "Sample queries shown (about half hits, half misses).", minimum=0)
    frames: int = option(4, "Frames per strip.", minimum=1)
    strip_height: int = option(64, "Strip height in pixels.", minimum=16)
    sources: tuple[str, ...] = option(("shards", "compressed"), "Where strip frames come from, tried in order: "
                                      "shards = the frames the model saw (data.format), compressed = "
                                      "DATA_ROOT/compressed/{video_id}.mp4.", choices=("shards", "compressed"),
                                      min_items=1)
    seed: int = option(0, "Seed of the sample choice.")


@dataclass(frozen=True)
class EvalConfig:
    """One evaluation: each option's default, description and allowed values
    (``schemas/eval.schema.json`` is generated from them)."""

    checkpoint: str | None = option(None, "Checkpoint written by `tvrkit train` (e.g. runs/x/checkpoints/best.pt); "
                                    "null only with --model-config (evaluate a train config's model untrained or "
                                    "zero-shot).")
    split: str | None = option(None, "Catalog split to evaluate; null = data.test_split.")
    out: str = option("runs/eval", "Output directory: metrics.json, metrics.md, ranks.parquet, plots, report.html, "
                      "summary.json.", min_length=1)
    data: DataConfig = option(description="Frames and captions (the data config); keys not given here are those the "
                              "model was trained with (stored in the checkpoint).", factory=DataConfig, ref="data")
    model: ModelConfig = option(description="The method and its backbone (the model config); keys not given here are "
                                "those stored in the checkpoint.", factory=ModelConfig, ref="model")
    rerank_topk: int | None = option(None, "Coarse-to-fine: the global level ranks the whole gallery and the fine "
                                     "levels re-score each query's top K. null = the method's own K where its "
                                     "official evaluation has one (eercf: 50), else the fine levels score the whole "
                                     "gallery (exact, O(texts x videos) fine scores; a K of at least the gallery "
                                     "size is the same ranking). Ignored when the model has no fine level.",
                                     minimum=1)
    post: str = option("none", "Post-processing of the full score matrix (DSL, SK-norm, QB-Norm): needs the dense "
                       "texts x videos matrix, so it cannot be combined with rerank_topk.",
                       choices=("none", "dsl", "sk", "qb"))
    post_params: PostParams = option(description="Parameters of the post-processors (as `tvrkit metrics`).",
                                     factory=PostParams)
    querybank_split: str | None = option(None, "Split whose captions form the text->video querybank of "
                                         "post-processing; null = data.train_split.")
    transductive: bool = option(False, "Use the evaluated queries themselves as the querybank instead (labelled "
                                "transductive in every output).")
    ties: str = option("mean", "How tied scores are ranked (see tvrkit.retrieval.metrics).",
                       choices=("mean", "optimistic", "pessimistic"))
    allow_missing: bool = option(False, "Videos of the split that could not be embedded: false = stop and name them; "
                                 "true = rank them last and record the count.")
    cache: bool = option(True, "Reuse cached features of the same checkpoint, split and settings.")
    cache_dir: str | None = option(None, "Feature cache directory; null = DATA_ROOT/features.")
    feature_dtype: str = option("float32", "Storage dtype of cached features; float16 halves the disk and memory of "
                                "a huge gallery (scores are computed in float32).", choices=("float32", "float16"))
    score_block: int = option(128, "Texts x videos block of the model's score().", minimum=1)
    rerank_pairs: int = option(1 << 20, "Fine pass: queries that share most of their candidates (captions of one "
                               "video; any query when K is the whole gallery) are scored together against the union "
                               "of their candidates, up to this many scores per call (the union's features are read "
                               "once per call).", minimum=1)
    order_pairs: str | None = option("auto", "JSON file with \"order_pairs\" (video id pairs, same events in reversed "
                                     "order) for the order-pair accuracy; auto = DATA_ROOT/raw/synthetic.json when "
                                     "present; null = skip.")
    compare: tuple[str, ...] = option((), "Other eval output directories whose order-pair accuracy and R@1 "
                                      "report.html shows beside this run's (e.g. meanP vs seqTransf).")
    plots: bool = option(True, "Write recall_at_k.png and rank_histogram.png (also shown in report.html).")
    report: ReportConfig = option(description="report.html: sample text queries with their top-5 videos as frame "
                                  "strips.", factory=ReportConfig)

    @property
    def eval_split(self) -> str:
        return self.split or self.data.test_split

    def chosen_post_params(self) -> dict[str, Any]:
        """The chosen post-processor's parameters, defaults filled in (``tvrkit metrics``' rules)."""
        return chosen_params(self.post, **dataclasses.asdict(self.post_params))

    @property
    def model_source(self) -> ModelSource:
        """The checkpoint (or untrained model) with this config's data and model sections."""
        return ModelSource(self.checkpoint, self.data, self.model)


def _eval_sections(doc: dict[str, Any]) -> dict[str, Any]:
    """An eval config as it is; of a train config (a shipped recipe, e.g. the config an official
    checkpoint is evaluated with: ``--checkpoint REF.bin --config configs/msrvtt-drl-vit-b32.yaml``)
    only its data and model sections."""
    if "optim" in doc or "train" in doc:
        return {key: doc[key] for key in ("data", "model") if key in doc}
    return doc


def load_eval_config(path: str | os.PathLike[str] | None = None, overrides: list[str] | tuple[str, ...] = (),
                     base: dict[str, Any] | None = None,
                     model_config: str | os.PathLike[str] | None = None) -> EvalConfig:
    """Eval config from YAML ``path`` over ``base`` (CLI options), ``--set`` overrides, and the
    data and model sections underneath (keys given here win) of either the checkpoint or, to
    evaluate a model that was never trained (random init or zero-shot pretrained weights),
    the train config ``model_config``."""
    doc = dict(base or {})
    if path is not None:
        doc = merge(doc, _eval_sections(read_yaml(resolve_config_path(path))))
    doc = apply_overrides(doc, overrides, SCHEMA)
    for section, stored in stored_sections(doc.get("checkpoint"), model_config).items():
        doc[section] = merge(stored, doc.get(section) or {})
    return check_eval_config(load_config(SCHEMA, EvalConfig, base=doc))


def check_eval_config(cfg: EvalConfig) -> EvalConfig:
    """Checks across keys (exit 2 before any work)."""
    if cfg.post != "none" and cfg.rerank_topk is not None:
        raise ConfigError("post: post-processing needs the full score matrix; leave rerank_topk null (full scoring) "
                          "or use post: none for coarse-to-fine")
    if cfg.post == "none" and cfg.transductive:
        raise ConfigError("transductive: only meaningful with post-processing (post: dsl, sk or qb)")
    return cfg


@dataclass(frozen=True)
class MetricsConfig:
    """Inputs and protocol of one ``tvrkit metrics`` run.

    ``bank_sim`` is a (bank texts x videos) matrix, the querybank for text->video
    post-processing (tvrkit's default bank: the training split's captions);
    ``bank_sim_v2t`` a (bank videos x texts) matrix for video->text. Without a bank a
    direction is post-processed only if ``transductive`` allows the evaluated queries to
    serve as their own bank; otherwise video->text is reported unprocessed (and says so).
    """

    sim: str
    out: str
    map: str | None = None
    post: str = "none"
    bank_sim: str | None = None
    bank_sim_v2t: str | None = None
    transductive: bool = False
    ties: str = "mean"
    v2t_mode: str = "group"
    dsl_temperature: float = 100.0  # CAMoE / CLIP4Clip-style DSL at inference
    sk_iters: int = 4  # UCoFiA's sinkhorn_knopp(n_iters=4)
    sk_temperature: float | None = None  # UCoFiA uses the bank scores as given
    qb_beta: float = 20.0  # QB-Norm's default beta
    qb_k: int = 1  # QB-Norm activates each bank query's top-1
    allow_missing: bool = False
    split: str | None = None
    checkpoint: str | None = None
    plots: bool = True

    def __post_init__(self) -> None:
        check_ties(self.ties)
        if self.post not in POSTPROCESSORS:
            raise ConfigError(f"unknown --post {self.post!r}; allowed: {', '.join(POSTPROCESSORS)}")
        if self.v2t_mode not in V2T_MODES:
            raise ConfigError(f"unknown video->text mode {self.v2t_mode!r}; allowed: {', '.join(V2T_MODES)}")
        if self.post in BANKLESS and (self.bank_sim or self.bank_sim_v2t):
            raise ConfigError("a querybank was given but --post is none")
        if self.post not in BANKLESS and self.bank_sim is None and not self.transductive:
            raise ConfigError(
                f"--post {self.post} needs --bank-sim (querybank texts x videos, e.g. the training captions), "
                "or --transductive to use the test queries themselves"
            )
        positive = {
            "dsl_temperature": self.dsl_temperature,
            "sk_iters": self.sk_iters,
            "qb_beta": self.qb_beta,
            "qb_k": self.qb_k,
            "sk_temperature": 1.0 if self.sk_temperature is None else self.sk_temperature,
        }
        bad = [name for name, value in positive.items() if not value > 0]
        if bad:
            raise ConfigError(f"must be > 0: {', '.join(bad)}")

    def post_params(self) -> dict[str, Any]:
        """The chosen post-processor's parameters, defaults filled in."""
        return chosen_params(self.post, dsl_temperature=self.dsl_temperature, sk_iters=self.sk_iters,
                             sk_temperature=self.sk_temperature, qb_beta=self.qb_beta, qb_k=self.qb_k)
