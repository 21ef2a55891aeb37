"""``tvrkit index --videos DIR --out INDEX``: collects options into an
:class:`~tvrkit.search.config.IndexConfig` and runs :func:`~tvrkit.search.index.run_index`."""

from __future__ import annotations

from typing import Any

import click

from tvrkit.cli.common import drop_none, set_option


@click.command("index", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="Index config YAML (schemas/index.schema.json).")
@click.option("--videos", type=click.Path(file_okay=False), help="Folder of videos (searched recursively).")
@click.option("--out", type=click.Path(file_okay=False), help="Index folder to create or update.")
@click.option("--checkpoint", type=click.Path(dir_okay=False), help="Checkpoint written by `tvrkit train`.")
@click.option("--model-config", type=click.Path(dir_okay=False),
              help="Instead of a checkpoint: a train config's model, untrained (seeded) or zero-shot.")
@click.option("--index-type", type=click.Choice(["flat", "ivf-pq", "hnsw"]),
              help="flat: exact (default); ivf-pq or hnsw for large libraries.")
@click.option("--workers", type=int, help="Parallel ffmpeg processes (default: one per core).")
@click.option("--device", help="Torch device to embed on (default cpu).")
@set_option
@click.pass_context
def index(ctx: click.Context, config_path: str | None, overrides: tuple[str, ...], **options: Any) -> None:
    """Turn a folder of videos into a searchable index: compress each video (as prepare does),
    embed it once, write a FAISS index, a parquet table and a summary to OUT. Re-running embeds
    only new or changed files and drops deleted ones; bad files go to OUT/failures.jsonl."""
    from tvrkit.search.config import load_index_config
    from tvrkit.search.index import run_index

    workers = options.pop("workers")
    base = drop_none(options)
    if workers is not None:
        base["compress"] = {"workers": workers}
    summary = run_index(load_index_config(config_path, overrides, base))
    if not (ctx.obj or {}).get("quiet"):
        out = summary["config"]["out"]
        click.echo(f"index {out}: {summary['videos']} videos ({summary['embedded']} embedded, "
                   f"{summary['skipped']} unchanged, {summary['deleted']} dropped, {summary['failed']} failed) "
                   f"in {summary['seconds']:.1f} s\nsearch it: tvrkit search {out} \"a dog catches a frisbee\"  "
                   f"or  tvrkit serve {out}")
