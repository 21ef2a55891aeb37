"""``tvrkit train --config CFG.yaml``: loads a :class:`~tvrkit.train.TrainConfig` and runs
:func:`~tvrkit.train.run_train` (the same command under ``torchrun`` for DDP)."""

from __future__ import annotations

import sys

import click

from tvrkit.cli.common import set_option


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="Train config: a YAML path or a shipped config's name (`tvrkit config list`), e.g. demo.")
@click.option("--out", type=click.Path(file_okay=False), help="Run directory (default: the config's out).")
@click.option("--resume", is_flag=True, help="Continue from the latest checkpoint in the run directory (if any).")
@click.option("--init", "init", type=click.Path(dir_okay=False),
              help="Fine-tune from this checkpoint's weights (tvrkit or official layout): --set train.init=PATH.")
@set_option
def train(config_path: str, out: str | None, resume: bool, init: str | None, overrides: tuple[str, ...]) -> None:
    """Train a retrieval model: one process, or DDP under `torchrun --nproc_per_node N`.

    \b
    Only rank 0 writes: OUT/config.resolved.yaml, OUT/train_log.jsonl (JSON lines),
    OUT/checkpoints/{step-*.pt,last.pt,best.pt}, OUT/summary.json.
    SIGTERM/SIGINT save a checkpoint and exit with 128+signal; rerun with --resume.
    """
    from tvrkit.train import load_train_config, run_train

    cfg = load_train_config(config_path, overrides + ((f"train.init={init}",) if init else ()))
    summary = run_train(cfg, out, resume)
    if summary["rank"] == 0:
        metrics = summary.get("metrics") or {}
        r1 = f", {summary['split']} t2v R@1 {metrics['R@1']:.2f}" if "R@1" in metrics else ""
        click.echo(f"train: {summary['status']} at step {summary['step']}/{summary['total_steps']}{r1}; "
                   f"{summary['seconds']:.1f} s; run in {out or cfg.out}")
    if summary["status"] == "interrupted":
        sys.exit(128 + int(summary["signal"] or 15))
