"""The published recipes' training options: BertAdam's update and CLIP4Clip's / X-Pool's schedules
checked against their formulas, the no-decay rules and separate learning rates, epochs xor
steps, ``val_from_train`` selection, the input checks before the first step, ``--init`` and the
fp16-reference regime training the tiny model."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn
from train_data import synthetic_root, tiny_config

from tvrkit.data.holdout import HELDOUT
from tvrkit.errors import ConfigError
from tvrkit.train import load_train_config, run_train
from tvrkit.train.bertadam import BertAdam
from tvrkit.train.checkpoint import LAST, load_training_state
from tvrkit.train.config import OptimConfig
from tvrkit.train.inputs import input_problems
from tvrkit.train.jsonlog import LOG_FILE, read_log
from tvrkit.train.optim import build_optimizer, build_scheduler, decays, param_groups, schedule_factor


def test_bertadam_steps_follow_the_formula():
    """Two BertAdam updates, by hand: g <- g * min(1, c / (|g| + 1e-6)); m <- b1 m + (1 - b1) g;
    v <- b2 v + (1 - b2) g^2; p <- p - lr (m / (sqrt(v) + eps) + wd p). No bias correction."""
    lr, (b1, b2), eps, wd, c = 0.1, (0.9, 0.98), 1e-6, 0.2, 1.0
    big = nn.Parameter(torch.tensor([3.0, -4.0]))  # |g| = 5 * |grad scale| > c: clipped
    small = nn.Parameter(torch.tensor([0.5]))  # |g| < c: untouched, and no decay in its group
    opt = BertAdam([{"params": [big], "weight_decay": wd}, {"params": [small], "weight_decay": 0.0}],
                   lr=lr, betas=(b1, b2), eps=eps, param_grad_norm=c)
    p, q = big.detach().clone().double(), small.detach().clone().double()
    m_p = v_p = torch.zeros(2, dtype=torch.float64)
    m_q = v_q = torch.zeros(1, dtype=torch.float64)
    for grads in ([torch.tensor([6.0, 8.0]), torch.tensor([0.3])], [torch.tensor([-1.5, 2.0]), torch.tensor([-0.2])]):
        big.grad, small.grad = grads[0].clone(), grads[1].clone()
        opt.step()
        g = grads[0].double() * min(1.0, c / (float(grads[0].norm()) + 1e-6))
        m_p, v_p = b1 * m_p + (1 - b1) * g, b2 * v_p + (1 - b2) * g * g
        p = p - lr * (m_p / (v_p.sqrt() + eps) + wd * p)
        h = grads[1].double()
        m_q, v_q = b1 * m_q + (1 - b1) * h, b2 * v_q + (1 - b2) * h * h
        q = q - lr * (m_q / (v_q.sqrt() + eps))
        torch.testing.assert_close(big.detach().double(), p, rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(small.detach().double(), q, rtol=1e-6, atol=1e-7)
    assert opt.state[big]["step"] == 2 and opt.state[big]["next_m"].dtype == torch.float32


def test_reference_schedules_follow_their_formulas():
    total = 50
    bert = schedule_factor(OptimConfig(schedule="bert_cosine", warmup=0.1), total)
    for s in range(total):  # CLIP4Clip's warmup_cosine(x = s / total, warmup = 0.1)
        x = s / total
        assert bert(s) == pytest.approx(x / 0.1 if x < 0.1 else 0.5 * (1 + math.cos(math.pi * x)))
    assert bert(0) == 0.0 and bert(5) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.1)))
    hf = schedule_factor(OptimConfig(schedule="hf_cosine", warmup=0.1), total)
    for s in range(total):  # transformers' get_cosine_schedule_with_warmup, W = int(0.1 * total)
        expected = s / 5 if s < 5 else 0.5 * (1 + math.cos(math.pi * (s - 5) / (total - 5)))
        assert hf(s) == pytest.approx(expected)
    model = nn.Linear(2, 2)
    opt = build_optimizer(model, OptimConfig(type="bertadam", schedule="bert_cosine", lr=1e-3), None)
    assert isinstance(opt, BertAdam)
    sched = build_scheduler(opt, OptimConfig(schedule="bert_cosine", lr=1e-3), 100)
    seen = []
    for _ in range(4):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([1e-3 * s / 100 / 0.1 for s in range(4)])


class _Towers(nn.Module):
    """Parameter names like tvrkit's: a backbone (``backbone.clip.*``) and a new head."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.clip = nn.Module()
        self.backbone.clip.ln_1 = nn.LayerNorm(4)
        self.backbone.clip.proj = nn.Linear(4, 4)
        self.backbone.clip.positional_embedding = nn.Parameter(torch.zeros(3, 4))
        self.head = nn.Linear(4, 4)
        self.head.LayerNorm = nn.LayerNorm(4)
        self.logit_scale = nn.Parameter(torch.tensor(4.6))


def test_no_decay_rules_and_separate_learning_rates():
    model = _Towers()
    names = dict(model.named_parameters())
    clip4clip = {n for n, p in names.items() if not decays(n, p, "clip4clip")}
    assert clip4clip == {"backbone.clip.ln_1.bias", "backbone.clip.proj.bias", "head.bias", "head.LayerNorm.bias",
                         "head.LayerNorm.weight"}, "CLIP4Clip's rule: bias, LayerNorm.bias, LayerNorm.weight"
    assert all(decays(n, p, "none") for n, p in names.items())
    tvrkit = {n for n, p in names.items() if not decays(n, p)}
    assert {"backbone.clip.ln_1.weight", "backbone.clip.positional_embedding", "logit_scale"} <= tvrkit

    xpool = {g["name"]: g for g in param_groups(model, OptimConfig(lr=1e-5, backbone_lr=1e-6, no_decay="none"),
                                                model.backbone)}
    assert set(xpool) == {"backbone/decay", "new/decay"}
    assert xpool["backbone/decay"]["lr"] == 1e-6 and xpool["new/decay"]["lr"] == 1e-5
    c4c = {g["name"]: g for g in param_groups(model, OptimConfig(lr=1e-4, coef_lr=1e-3, no_decay="clip4clip"),
                                              model.backbone)}
    assert c4c["backbone/decay"]["lr"] == pytest.approx(1e-7) and c4c["new/no_decay"]["weight_decay"] == 0.0
    assert "backbone.clip.ln_1.weight" in c4c["backbone/decay"]["param_names"]


def test_train_config_cross_checks(tmp_path):
    with pytest.raises(ConfigError, match=r"train\.epochs / train\.steps: set exactly one"):
        load_train_config(base=tiny_config(tmp_path, train={"steps": 10}))
    with pytest.raises(ConfigError, match=r"train\.epochs / train\.steps: set exactly one"):
        load_train_config(base=tiny_config(tmp_path, train={"epochs": None}))
    cfg = load_train_config(base=tiny_config(tmp_path, train={"epochs": None, "steps": 10}))
    assert cfg.train.steps == 10 and cfg.train.epochs is None
    with pytest.raises(ConfigError, match=r"data\.val_from_train: 3 held-out .* replace data\.val_split"):
        load_train_config(base=tiny_config(tmp_path, data={"val_from_train": 3}))
    held = load_train_config(base=tiny_config(tmp_path, data={"val_from_train": 3, "val_split": None}))
    assert held.selection_split() == HELDOUT
    with pytest.raises(ConfigError, match=r"data\.frame_rate: 2\.5: clip4clip"):
        load_train_config(base=tiny_config(tmp_path, data={"train_sampling": "clip4clip", "frame_rate": 2.5}))
    with pytest.raises(ConfigError, match=r"fp8"):
        load_train_config(base=tiny_config(tmp_path, train={"precision": "fp8"}))


# -- runs on the tiny synthetic dataset (16 videos) ------------------------------------------------

@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return synthetic_root(tmp_path_factory.mktemp("recipes"))


def test_inputs_are_checked_before_the_first_step(root, tmp_path):
    cfg = load_train_config(base=tiny_config(root, data={"val_split": "nope"}, model={
        "backbone": {"arch": "tvrkit-tiny", "pretrained": str(tmp_path / "absent.pt")}},
        train={"init": str(tmp_path / "missing.pt")}))
    problems = input_problems(cfg, world_size=3)
    assert any(p.startswith("data.batch_size: the global batch 8 does not divide into 3") for p in problems)
    assert any(p.startswith("data.val_split 'nope': catalog has no split 'nope'") for p in problems)
    assert f"model.backbone.pretrained: no such file {tmp_path / 'absent.pt'}" in problems
    assert any(p.startswith("train.init: checkpoint not found") for p in problems)
    assert len(problems) == 4
    held_out = load_train_config(base=tiny_config(root, data={"val_split": None, "val_from_train": 2}))
    assert input_problems(held_out, 2) == []
    cfg = load_train_config(base=tiny_config(root, data={"val_split": "nope"}))
    with pytest.raises(ConfigError, match=r"the run cannot start: data\.val_split 'nope'"):
        run_train(cfg, tmp_path / "run")
    assert not (tmp_path / "run" / LOG_FILE).exists(), "nothing was trained or written"


@pytest.mark.slow
def test_fp16_reference_trains_then_init_fine_tunes(root, tmp_path, one_thread):
    epochs = 12
    cfg = load_train_config(base=tiny_config(root, train={"epochs": epochs, "precision": "fp16-reference",
                                                          "select_on": "none"},
                                             optim={"type": "bertadam", "schedule": "bert_cosine", "warmup": 0.1,
                                                    "no_decay": "clip4clip"}))
    summary = run_train(cfg, tmp_path / "fp16")
    losses = [r["loss"] for r in read_log(tmp_path / "fp16" / LOG_FILE) if r["type"] == "train"]
    assert summary["status"] == "completed" and len(losses) == epochs * 3 and all(map(math.isfinite, losses))
    assert sum(losses[-3:]) / 3 < min(math.log(8) - 0.1, sum(losses[:3]) / 3), losses
    ckpt = load_training_state(tmp_path / "fp16" / "checkpoints" / LAST)
    dtypes = {k.split("clip.", 1)[-1]: v.dtype for k, v in ckpt["model"].items() if "backbone.clip." in k}
    assert dtypes["visual.conv1.weight"] == dtypes["transformer.resblocks.0.attn.in_proj_weight"] == torch.float16
    assert dtypes["visual.proj"] == dtypes["text_projection"] == torch.float16
    assert dtypes["ln_final.weight"] == dtypes["positional_embedding"] == torch.float32, "as convert_weights leaves"
    state_dtypes = {s["next_m"].dtype for s in ckpt["optimizer"]["state"].values()}
    assert state_dtypes == {torch.float16, torch.float32}, "optimizer state in each parameter's dtype"

    # --init: a fresh fp32 run starts from those weights (strictly loaded)
    from click.testing import CliRunner

    from tvrkit.cli import cli
    from tvrkit.models import build_model
    from tvrkit.train.init import load_init_weights

    fine = load_train_config(base=tiny_config(root, train={"epochs": None, "steps": 1, "select_on": "none"}))
    model = build_model(fine.model)
    load_init_weights(model, tmp_path / "fp16" / "checkpoints" / LAST, fine.model)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, ckpt["model"][key].to(value.dtype), rtol=0, atol=0)
    other = load_train_config(base=tiny_config(root, model={"clip4clip": {"temporal": {"type": "meanP"}}}))
    with pytest.raises(ConfigError, match=r"does not fit model\.method clip4clip as configured \(unexpected: "):
        load_init_weights(build_model(other.model), tmp_path / "fp16" / "checkpoints" / LAST, other.model)
    import yaml

    config = tmp_path / "fine.yaml"
    config.write_text(yaml.safe_dump(tiny_config(root, train={"epochs": None, "steps": 1, "select_on": "none"})))
    done = CliRunner().invoke(cli, ["train", "--config", str(config), "--out", str(tmp_path / "fine"),
                                    "--init", str(tmp_path / "fp16" / "checkpoints" / LAST)])
    assert done.exit_code == 0, done.output
    start = read_log(tmp_path / "fine" / LOG_FILE)[0]
    assert start["type"] == "start" and start["init"] == str(tmp_path / "fp16" / "checkpoints" / LAST)
