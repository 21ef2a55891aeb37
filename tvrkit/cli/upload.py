"""``tvrkit upload ROOT URL``: runs :func:`~tvrkit.shards.upload.run_upload` and prints what it copied."""

from __future__ import annotations

import click


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("root", type=click.Path(exists=True, file_okay=False))
@click.argument("url")
@click.option("--split", "splits", multiple=True, help="Split to upload (repeatable; default: every sharded one).")
@click.option("--retry-seconds", type=float, default=60.0, show_default=True,
              help="How long each transfer retries before the upload stops (rerun to resume).")
def upload(root: str, url: str, splits: tuple[str, ...], retry_seconds: float) -> None:
    """Copy ROOT's catalog and WebDataset shards to URL (s3://bucket/path, gs://..., file:///...).

    Every shard is checked against its manifest before it leaves and read back after it
    lands; files already there with the same sha256 are skipped, so rerunning resumes.
    Train from the copy with --set data.root=URL.
    """
    from tvrkit.shards.config import UploadConfig
    from tvrkit.shards.upload import run_upload

    summary = run_upload(UploadConfig(root=root, url=url, splits=splits, retry_seconds=retry_seconds))
    click.echo(f"ok: {summary['ok']} shard(s) copied ({summary['bytes'] / 1e6:.1f} MB), {summary['skipped']} "
               f"already there, splits {', '.join(summary['splits'])} -> {url}")
