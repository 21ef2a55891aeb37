"""``tvrkit metrics``: evaluate any saved similarity matrix (rows texts, columns videos)."""

from __future__ import annotations

import click

from tvrkit.retrieval.metrics import TIE_POLICIES, V2T_MODES
from tvrkit.retrieval.postprocess import POSTPROCESSORS

_FILE = click.Path(dir_okay=False)


@click.command("metrics")
@click.option("--sim", required=True, type=_FILE, help="texts x videos similarity matrix (.npy).")
@click.option("--map", "map_path", type=_FILE, help="JSON list: text row i -> its video's column (default: diagonal).")
@click.option(
    "--post",
    type=click.Choice(sorted(POSTPROCESSORS)),
    default="none",
    show_default=True,
    help="Post-processing: DSL, SK-norm (UCoFiA) or QB-Norm (dynamic inverted softmax).",
)
@click.option("--bank-sim", type=_FILE, help="Querybank x videos similarities for text->video post-processing.")
@click.option("--bank-sim-v2t", type=_FILE, help="Video-bank x texts similarities for video->text post-processing.")
@click.option(
    "--transductive",
    is_flag=True,
    help="Allow the test queries as their own querybank (labelled transductive in every output).",
)
@click.option("--dsl-temperature", type=float, default=100.0, show_default=True, help="DSL softmax temperature T.")
@click.option("--sk-iters", type=int, default=4, show_default=True, help="SK-norm Sinkhorn-Knopp iterations.")
@click.option("--sk-temperature", type=float, help="SK-norm: divide scores by this first (default: as given).")
@click.option("--qb-beta", type=float, default=20.0, show_default=True, help="QB-Norm inverse temperature beta.")
@click.option(
    "--ties",
    type=click.Choice(TIE_POLICIES),
    default="mean",
    show_default=True,
    help="Tied scores: expected value under random tie-breaking, or the best/worst case.",
)
@click.option(
    "--v2t-mode",
    type=click.Choice(V2T_MODES),
    default="group",
    show_default=True,
    help="Video->text: rank caption groups by their best caption (CLIP4Clip) or all captions.",
)
@click.option("--allow-missing", is_flag=True, help="Rank videos without scores (all-NaN columns) last.")
@click.option("--split", help="Split name recorded in metrics.json.")
@click.option("--checkpoint", help="Checkpoint recorded in metrics.json.")
@click.option("--no-plots", is_flag=True, help="Skip the PNG plots.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.pass_context
def metrics(ctx: click.Context, map_path: str | None, no_plots: bool, **options: object) -> None:
    """Evaluate a similarity matrix: R@1/5/10/50, MdR, MnR both ways -> metrics.json, metrics.md,
    ranks.parquet and plots in OUT."""
    from tvrkit.eval.config import MetricsConfig
    from tvrkit.eval.outputs import render_metrics_md
    from tvrkit.eval.run_metrics import run_metrics

    doc = run_metrics(MetricsConfig(map=map_path, plots=not no_plots, **options))  # type: ignore[arg-type]
    if not (ctx.obj or {}).get("quiet"):
        click.echo(render_metrics_md(doc))
