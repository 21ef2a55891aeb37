"""The configs of the stages in ``tvrkit.eval``, in one place: :class:`EvalConfig` (``tvrkit eval`` and
``tvrkit export``, ``schemas/eval.schema.json``) and :class:`MetricsConfig` (``tvrkit metrics``).

An eval config's data and model sections default to the ones the model was trained with (stored in
the checkpoint, or of the train config of an untrained model: :mod:`tvrkit.retrieval.model_source`);
keys given in the eval config win. A cross-key problem is a :class:`ConfigError` before any work.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

from tvrkit.config import load_config
from tvrkit.config.load import merge, read_yaml
from tvrkit.config.overrides import apply_overrides
from tvrkit.config.shipped import resolve_config_path
from tvrkit.data.config import DataConfig
from tvrkit.errors import ConfigError
from tvrkit.models.config import ModelConfig
from tvrkit.retrieval.metrics import V2T_MODES, check_ties
from tvrkit.retrieval.model_source import ModelSource, stored_sections
from tvrkit.retrieval.postprocess import BANKLESS, POSTPROCESSORS, chosen_params

SCHEMA = "eval"


@dataclass(frozen=True)
class PostParams:
    dsl_temperature: float = 100.0
    sk_iters: int = 4
    sk_temperature: float | None = None
    qb_beta: float = 20.0
    qb_k: int = 1


@dataclass(frozen=True)
class ReportConfig:
    enabled: bool = True
    samples: int = 8
    frames: int = 4
    strip_height: int = 64
    sources: tuple[str, ...] = ("shards", "compressed")
    seed: int = 0


@dataclass(frozen=True)
class EvalConfig:
    """One evaluation (``schemas/eval.schema.json`` describes every key)."""

    checkpoint: str | None = None
    split: str | None = None
    out: str = "runs/eval"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    rerank_topk: int | None = None
    post: str = "none"
    post_params: PostParams = field(default_factory=PostParams)
    querybank_split: str | None = None
    transductive: bool = False
    ties: str = "mean"
    allow_missing: bool = False
    cache: bool = True
    cache_dir: str | None = None
    feature_dtype: str = "float32"
    score_block: int = 128
    rerank_pairs: int = 1 << 20  # coarse_fine.DEFAULT_MAX_PAIRS (kept torch-free here)
    order_pairs: str | None = "auto"
    compare: tuple[str, ...] = ()
    plots: bool = True
    report: ReportConfig = field(default_factory=ReportConfig)

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
