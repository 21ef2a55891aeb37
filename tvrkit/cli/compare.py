"""``tvrkit compare``: builds a :class:`~tvrkit.compare.CompareConfig` and runs
:func:`~tvrkit.compare.run_compare`, then prints where the table is."""

from __future__ import annotations

import click

from tvrkit.cli.common import set_option


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "base", required=True,
              help="Base train config (path or shipped name): the protocol every method shares.")
@click.option("--methods", default="all", show_default=True,
              help="all, or comma-separated recipe variants / method names (e.g. xpool,clip4clip-meanp).")
@click.option("--seeds", default=3, show_default=True, type=click.IntRange(1), help="Seeds per method (paired).")
@click.option("--first-seed", default=0, show_default=True, type=int, help="The first seed.")
@click.option("--reference", default="clip4clip-seqtransf", show_default=True,
              help="The variant paired differences are taken against.")
@click.option("--recipe-optim", is_flag=True, help="Take each recipe's optimizer and schedule, not the base's.")
@click.option("--split", help="Evaluation split (default: the base config's test split).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output directory.")
@set_option
def compare(base: str, methods: str, seeds: int, first_seed: int, reference: str, recipe_optim: bool,
            split: str | None, out: str, overrides: tuple[str, ...]) -> None:
    """Train and evaluate every method under one protocol, over paired seeds.

    \b
    Runs are ordinary tvrkit runs in OUT/<variant>/seed<s>/ (a re-run skips what is finished);
    OUT/compare.json, compare.md and compare.html hold the table: means with 95% intervals over
    seeds, paired differences against --reference, training and evaluation cost.
    """
    from tvrkit.compare import CompareConfig, run_compare

    cfg = CompareConfig(base=base, out=out, methods=tuple(m.strip() for m in methods.split(",") if m.strip()),
                        seeds=seeds, first_seed=first_seed, overrides=overrides, recipe_optim=recipe_optim,
                        reference=reference, split=split)
    doc = run_compare(cfg)
    click.echo(f"compare: {len(doc['rows'])} method variant(s) x {seeds} seed(s) -> {out}/compare.md")
