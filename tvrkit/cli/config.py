"""``tvrkit config list`` and ``tvrkit config show NAME``: the shipped configs by name, and one of them
printed to copy and edit (``tvrkit config show demo > my.yaml``; then ``tvrkit train --config my.yaml``);
``tvrkit config schema STAGE``: every key a stage's config takes, with its default and what is allowed."""

from __future__ import annotations

import click


@click.group("config", context_settings={"help_option_names": ["-h", "--help"]})
def config() -> None:
    """The configs shipped with tvrkit: list them, print one to start your own from.

    Any command's --config takes a shipped config's name (e.g. --config demo) or a path.
    """


@config.command("list")
def list_() -> None:
    """Every shipped config's name and what it trains."""
    from tvrkit.config.shipped import shipped_table

    click.echo(shipped_table(), nl=False)


@config.command("show")
@click.argument("name")
def show(name: str) -> None:
    """Print shipped config NAME (comments included): redirect it to a file to edit it."""
    from tvrkit.config.shipped import config_text

    click.echo(config_text(name), nl=False)


@config.command("schema")
@click.argument("stage")
def schema(stage: str) -> None:
    """Print the JSON Schema of STAGE's config (train, data, model, eval, index, prepare, shard,
    compress): every key's default, description and allowed values."""
    from tvrkit.config.schema import schema_text

    click.echo(schema_text(stage), nl=False)
