"""``tvrkit eval --checkpoint CKPT``: loads an :class:`~tvrkit.eval.config.EvalConfig` (the
checkpoint's data and model sections under the config and options) and runs
:func:`~tvrkit.eval.run_eval.run_eval` (the same command under ``torchrun`` embeds on every rank)."""

from __future__ import annotations

import click

from tvrkit.cli.common import drop_none, set_option
from tvrkit.retrieval.metrics import TIE_POLICIES
from tvrkit.retrieval.postprocess import POSTPROCESSORS


@click.command("eval", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="Eval config YAML (schemas/eval.schema.json), or a train config (a path or a shipped config's "
                   "name: `tvrkit config list`) whose data and model sections apply (an official checkpoint's "
                   "recipe); optional for tvrkit checkpoints.")
@click.option("--checkpoint", type=click.Path(dir_okay=False),
              help="Checkpoint written by `tvrkit train`, or by a method's official training script (with --config).")
@click.option("--model-config", type=click.Path(dir_okay=False),
              help="Instead of a checkpoint: evaluate this train config's model (a path or a shipped config's name) "
                   "untrained (random init, seeded by data.seed) or zero-shot (backbone.pretrained weights).")
@click.option("--split", help="Split to evaluate (default: data.test_split).")
@click.option("--out", type=click.Path(file_okay=False), help="Output directory (default: runs/eval).")
@click.option("--rerank-topk", type=click.IntRange(min=1),
              help="Coarse-to-fine: fine levels re-score each query's global top K (default: the whole gallery).")
@click.option("--post", type=click.Choice(sorted(POSTPROCESSORS)), help="Post-processing: DSL, SK-norm or QB-Norm.")
@click.option("--querybank-split", help="Split whose captions form the querybank (default: data.train_split).")
@click.option("--transductive", is_flag=True, default=None,
              help="Post-process with the test queries themselves (labelled transductive in every output).")
@click.option("--ties", type=click.Choice(TIE_POLICIES), help="Tie policy (default: mean).")
@click.option("--allow-missing", is_flag=True, default=None,
              help="Rank videos that could not be embedded last (default: stop and name them).")
@click.option("--compare", multiple=True, type=click.Path(file_okay=False),
              help="Another eval output directory to compare order-pair accuracy with in report.html (repeatable).")
@click.option("--no-cache", is_flag=True, help="Re-encode even if cached features exist.")
@set_option
@click.pass_context
def eval_(ctx: click.Context, config_path: str | None, model_config: str | None, no_cache: bool,
          overrides: tuple[str, ...], **options: object) -> None:
    """Evaluate a checkpoint: embed a split once, rank coarse-to-fine (or post-process the full
    matrix), write metrics.json, metrics.md, ranks.parquet, plots and report.html to OUT."""
    from tvrkit.eval.config import load_eval_config
    from tvrkit.eval.outputs import render_metrics_md
    from tvrkit.eval.run_eval import run_eval

    base = drop_none(options)
    if no_cache:
        base["cache"] = False
    doc = run_eval(load_eval_config(config_path, overrides, base, model_config=model_config))
    if doc and not (ctx.obj or {}).get("quiet"):
        click.echo(render_metrics_md(doc))
