"""``tvrkit export --checkpoint CKPT``: a split's global text and video embeddings as parquet,
via :func:`~tvrkit.eval.export.run_export` (same config as ``tvrkit eval``, same feature cache)."""

from __future__ import annotations

import click

from tvrkit.cli.common import drop_none, set_option


@click.command("export", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="Eval config YAML (schemas/eval.schema.json); optional: the checkpoint holds data and model.")
@click.option("--checkpoint", type=click.Path(dir_okay=False), help="Checkpoint written by `tvrkit train`.")
@click.option("--split", help="Split to export (default: data.test_split).")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Directory for video_embeddings.parquet and text_embeddings.parquet.")
@click.option("--no-cache", is_flag=True, help="Re-encode even if cached features exist.")
@set_option
@click.pass_context
def export(ctx: click.Context, config_path: str | None, no_cache: bool, overrides: tuple[str, ...],
           **options: object) -> None:
    """Write OUT/video_embeddings.parquet (video_id, embedding) and OUT/text_embeddings.parquet
    (caption_id, video_id, caption, embedding): unit vectors whose dot product is the model's
    video-sentence score, with the checkpoint hash and split in the parquet metadata."""
    from tvrkit.eval.config import load_eval_config
    from tvrkit.eval.export import run_export

    base = drop_none(options)
    if no_cache:
        base["cache"] = False
    summary = run_export(load_eval_config(config_path, overrides, base))
    if summary and not (ctx.obj or {}).get("quiet"):
        click.echo(f"export: {summary['ok']} embeddings ({summary['failed']} videos missing) -> {options['out']}")
