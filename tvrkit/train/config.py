"""The train config (``schemas/train.schema.json`` is generated from these dataclasses): data and
model sections owned by their packages, plus the optimizer and loop sections defined here, and the
checks that need more than one section (e.g. selecting on a validation split that is not there)."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from tvrkit.config import load_config, option
from tvrkit.data.config import DataConfig
from tvrkit.data.frame_indices import HMMC_CANDIDATES
from tvrkit.errors import ConfigError
from tvrkit.models.config import ModelConfig

SCHEMA = "train"


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    """AdamW or BertAdam + warmup/cosine; defaults are CLIP4Clip's (lr 1e-4, backbone x1e-3, wd 0.2)."""

    type: str = option("adamw", "adamw: torch's AdamW (bias-corrected, decay before the update). hf_adamw: "
                       "transformers' AdamW, which X-Pool and VSC-HA train with: eps added to sqrt(v) before the "
                       "bias correction, p -= lr sqrt(1-b2^t)/(1-b1^t) m/(sqrt(v)+eps), then the decay p -= lr "
                       "weight_decay p on the updated weights (2.9 % apart from adamw in total update over 3,000 "
                       "steps at X-Pool's settings, 8.1 % for gradients below 1e-5). bertadam: CLIP4Clip's BertAdam "
                       "update, m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2, p -= lr (m / (sqrt(v) + eps) + "
                       "weight_decay p): no bias correction, each parameter's gradient first clipped to "
                       "param_grad_norm; its state has the parameter's dtype.",
                       choices=("adamw", "hf_adamw", "bertadam"))
    lr: float = option(1e-4, "Peak learning rate of the parameters added on top of the backbone (temporal module, "
                       "heads).", exclusive_minimum=0)
    coef_lr: float = option(1e-3, "Multiplier of lr for the pretrained backbone (CLIP4Clip's coef_lr): the backbone "
                            "moves lr*coef_lr.", exclusive_minimum=0)
    backbone_lr: float | None = option(None, "Peak learning rate of the backbone, instead of lr*coef_lr (X-Pool's "
                                       "clip_lr 1e-6 beside noclip_lr = lr); null = lr*coef_lr.", exclusive_minimum=0)
    weight_decay: float = option(0.2, "Decoupled weight decay (scaled by the scheduled lr), on the parameters "
                                 "no_decay does not exempt.", minimum=0)
    betas: tuple[float, ...] = option((0.9, 0.98), "Adam betas (CLIP's 0.98 second moment is steadier with large "
                                      "contrastive batches; X-Pool keeps 0.999).", minimum=0, exclusive_maximum=1,
                                      min_items=2, max_items=2)
    eps: float = option(1e-6, "Adam epsilon.", exclusive_minimum=0)
    schedule: str = option("cosine", "Learning-rate factor at 0-based step s of S. cosine: linear warmup (s+1)/W to "
                           "1, then cosine over the remaining steps down to min_lr_ratio; constant: warmup then 1. "
                           "bert_cosine (CLIP4Clip's BertAdam warmup_cosine): x = s/S, x/w while x < w (w = warmup "
                           "as a fraction; the first step has lr 0), then 0.5 (1 + cos(pi x)) over the WHOLE run; "
                           "hf_cosine (X-Pool, transformers' get_cosine_schedule_with_warmup): s/W while s < W, then "
                           "0.5 (1 + cos(pi (s-W)/(S-W))). min_lr_ratio applies to cosine only.",
                           choices=("cosine", "constant", "bert_cosine", "hf_cosine"))
    warmup: float = option(0.1, "Linear warmup length: a fraction of all optimizer steps when < 1, else a number of "
                           "steps (W = int(warmup * S) for a fraction).", minimum=0)
    min_lr_ratio: float = option(0.0, "Floor of the cosine schedule as a fraction of the peak.", minimum=0, maximum=1)
    no_decay: str = option("tvrkit", "Which parameters skip weight decay. tvrkit: biases, norms, temperatures and "
                           "class/positional embeddings (anything below 2-D, plus those names); clip4clip: "
                           "parameters whose name contains bias, LayerNorm.bias or LayerNorm.weight (CLIP4Clip's "
                           "rule: CLIP's ln_* gains, embeddings and temperature do decay); none: every parameter "
                           "decays (X-Pool).", choices=("tvrkit", "clip4clip", "none"))
    param_grad_norm: float | None = option(1.0, "type bertadam only: clip each parameter's gradient to this norm "
                                           "before its update (BertAdam's max_grad_norm, 1.0 in CLIP4Clip, on top of "
                                           "the global train.clip_grad_norm); null = no per-parameter clipping.",
                                           exclusive_minimum=0)


@dataclasses.dataclass(frozen=True)
class LoopConfig:
    """The ``train`` section: how long, how, and what the loop writes."""

    epochs: int | None = option(None, "Passes over the train split. Set exactly one of epochs and steps.", minimum=1)
    steps: int | None = option(None, "Optimizer steps to train for, crossing epochs as needed, so a recipe trains as "
                               "long on any dataset size. Set exactly one of epochs and steps.", minimum=1)
    init: str | None = option(None, "Fine-tune from this checkpoint (`tvrkit train --init PATH`): a tvrkit "
                              "checkpoint or an official one that tvrkit.models.load_checkpoint reads; its model "
                              "weights are loaded strictly (every key, checked before the first step) over the "
                              "pretrained backbone. Optimizer and schedule start fresh.")
    grad_accum: int = option(1, "Micro-batches per optimizer step, so that data.batch_size (the global batch: "
                             "per-rank micro-batch x ranks x grad_accum) can exceed what the GPUs hold; the "
                             "contrastive negatives stay those of one micro-batch gathered over the ranks (as "
                             "CLIP4Clip's gradient_accumulation_steps).", minimum=1)
    gather_grad: str = option("full", "Backward rule of the cross-rank gather the loss is computed through. full: "
                              "the exact gradient of the global-batch loss, the same on any number of ranks. local: "
                              "the published methods' AllGather (CLIP4Clip modules/until_module.py, also DRL, EERCF, "
                              "UCoFiA): each rank keeps only its own slice of its own loss copy's gradient, so after "
                              "DDP's averaging the parameters before the gather (the CLIP towers, temporal modules, "
                              "UCoFiA's selector) get 1/W of the whole-batch gradient on W ranks and the parameters "
                              "after it (logit scales, heads' matrices) all of it; with reference_world_size the "
                              "pre-gather share is 1/reference_world_size whatever the ranks and train.grad_accum. "
                              "It matters where the gradient scale matters: global and per-parameter clipping, eps, "
                              "fp16 optimizer state (fp16-reference).", choices=("full", "local"))
    reference_world_size: int | None = option(None, "gather_grad local only: the number of GPUs of the run being "
                                              "reproduced (the published command's --nproc_per_node), so that the "
                                              "pre-gather parameters get that run's gradient scale on any number of "
                                              "ranks; null = the ranks this run has (exactly the official code on "
                                              "them). Ignored by full.", minimum=1)
    clip_grad_norm: float | None = option(None, "Clip the global gradient norm to this value; null = no clipping. "
                                          "CLIP4Clip and X-Pool clip at 1.0.", exclusive_minimum=0)
    precision: str = option("auto", "auto = bf16 autocast on CUDA, fp32 on CPU; fp16 (CUDA only) autocasts with a "
                            "gradient scaler; bf16 on CPU is allowed but slow. fp16-reference is the regime the "
                            "published numbers come from (OpenAI's convert_weights, as CLIP4Clip and the methods "
                            "trained with its code do; X-Pool trains in fp32): the CLIP towers' "
                            "Linear/Conv/attention weights and biases and the two projections are stored, trained "
                            "and updated in fp16 (so their optimizer state is fp16 too), LayerNorms compute in fp32 "
                            "on fp16 activations, the towers' outputs are cast to fp32 for the method's own fp32 "
                            "modules, and there is no loss scaling; runs on CPU too (slowly).",
                            choices=("auto", "fp32", "bf16", "fp16", "fp16-reference"))
    threads: int | None = option(None, "CPU threads of each rank's math (torch.set_num_threads); null = torch's "
                                 "default (OMP_NUM_THREADS, else every core; torchrun sets 1). On small CPUs shared "
                                 "with loader workers, fewer threads than cores avoid threads spin-waiting for each "
                                 "other.", minimum=1)
    seed: int = option(42, "Seeds model initialisation and every random number generator of the trainer (the loader "
                       "has data.seed).", minimum=0)
    eval_every: int | None = option(None, "Validate every this many optimizer steps; null = at the end of each epoch "
                                    "(and always at the end).", minimum=1)
    save_every: int | None = option(None, "Checkpoint every this many optimizer steps; null = at the end of each "
                                    "epoch (and always at the end, and on SIGTERM/SIGINT).", minimum=1)
    keep_last: int = option(2, "Step checkpoints kept on disk besides last and best.", minimum=1)
    select_on: str = option("val", "Split whose text-to-video R@1 picks the best checkpoint: val is data.val_split, "
                            "or the videos data.val_from_train holds out of the train split. test is an explicit "
                            "opt-in to selecting on the test split and is recorded in every checkpoint and log; none "
                            "= no in-training evaluation, best = last.", choices=("val", "test", "none"))
    nonfinite: str = option("raise", "On a NaN/inf loss or gradient: raise (stop with the step and the batch's "
                            "video/caption ids) or skip the optimizer step and count it.", choices=("raise", "skip"))
    max_skipped: int = option(10, "With nonfinite=skip, stop with an error once more than this many steps were "
                              "skipped.", minimum=0)
    log_every: int = option(10, "Write one JSONL record (means over the window) every this many optimizer steps.",
                            minimum=1)
    progress: bool = option(True, "Show a tqdm progress bar on rank 0.")
    tensorboard: bool = option(False, "Also write TensorBoard event files to OUT/tensorboard/ (loss, learning rates, "
                               "gradient norms, validation metrics; needs the tensorboard package: pip install "
                               "'tvrkit[tensorboard]'). OUT/curves.png is drawn either way.")
    find_unused_parameters: bool = option(False, "DDP option: search the graph for parameters without gradients each "
                                          "step. The model gives disabled levels no parameters, so this is only "
                                          "needed for custom modules that skip parameters.")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs; saved resolved in the run directory and in every checkpoint."""

    data: DataConfig = option(description="What the loaders read and how they sample it (the data config).",
                              ref="data")
    model: ModelConfig = option(description="The retrieval method and its CLIP backbone (the model config).",
                                ref="model")
    optim: OptimConfig = option(description="AdamW or BertAdam with two learning rates (backbone and new modules) "
                                "and a warmup + cosine schedule. CLIP4Clip's recipe: type bertadam, schedule "
                                "bert_cosine, warmup 0.1, no_decay clip4clip, betas [0.9, 0.98], plus "
                                "train.clip_grad_norm 1.0; X-Pool's: type adamw, backbone_lr 1e-6, lr 1e-5 (3e-5 for "
                                "MSR-VTT 9k), betas [0.9, 0.999], schedule hf_cosine, warmup 0.1, no_decay none, "
                                "plus train.clip_grad_norm 1.0.", factory=OptimConfig)
    train: LoopConfig = option(description="The loop: length, accumulation, precision, evaluation, checkpoints, "
                               "logging.", factory=LoopConfig)
    out: str = option("runs/train", "Run directory: checkpoints/, train_log.jsonl, config.resolved.yaml, "
                      "summary.json (the --out option overrides it).", min_length=1)

    def selection_split(self) -> str | None:
        """The split whose R@1 picks ``best`` (None: no in-training evaluation); with
        ``data.val_from_train`` the validation split is the held-out part of the train split."""
        from tvrkit.data.holdout import HELDOUT

        val = HELDOUT if self.data.val_from_train else self.data.val_split
        return {"val": val, "test": self.data.test_split, "none": None}[self.train.select_on]


def check_train_config(cfg: TrainConfig) -> TrainConfig:
    """Cross-section checks the schema cannot express; :class:`ConfigError` (exit 2) on failure."""
    if (cfg.train.epochs is None) == (cfg.train.steps is None):
        raise ConfigError("train.epochs / train.steps: set exactly one of them (passes over the train split, or "
                          f"optimizer steps); got epochs={cfg.train.epochs}, steps={cfg.train.steps}")
    if cfg.data.val_from_train and cfg.data.val_split:
        raise ConfigError(f"data.val_from_train: {cfg.data.val_from_train} held-out training videos replace "
                          f"data.val_split ({cfg.data.val_split!r}); set one of them")
    if cfg.train.select_on == "val" and not (cfg.data.val_split or cfg.data.val_from_train):
        raise ConfigError(
            "train.select_on: val needs data.val_split (or data.val_from_train: N held-out training videos); "
            "or set train.select_on=none (best = last), or train.select_on=test (selects on the test split, "
            "recorded as such)"
        )
    if "clip4clip" in (cfg.data.train_sampling, cfg.data.eval_sampling) and cfg.data.frame_rate != int(
            cfg.data.frame_rate):
        raise ConfigError(f"data.frame_rate: {cfg.data.frame_rate}: clip4clip sampling reads whole frames per "
                          "second (CLIP4Clip's integer --feature_framerate)")
    if "hmmc" in (cfg.data.train_sampling, cfg.data.eval_sampling) and cfg.data.max_frames > HMMC_CANDIDATES:
        raise ConfigError(f"data.max_frames: {cfg.data.max_frames}: hmmc sampling takes its frames from "
                          f"{HMMC_CANDIDATES} per video (HMMC's stored frames)")
    if cfg.train.select_on == "test" and not cfg.data.test_split:
        raise ConfigError("train.select_on: test needs data.test_split")
    if cfg.optim.warmup >= 1 and cfg.optim.warmup != int(cfg.optim.warmup):
        raise ConfigError(f"optim.warmup: {cfg.optim.warmup} is >= 1, so it counts steps and must be whole")
    return cfg


def load_train_config(
    path: str | os.PathLike[str] | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    base: dict[str, Any] | None = None,
) -> TrainConfig:
    """Load and validate a train config from YAML ``path``, ``base`` and ``--set`` overrides."""
    return check_train_config(load_config(SCHEMA, TrainConfig, path=path, overrides=overrides, base=base))
