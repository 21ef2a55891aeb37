"""``tvrkit shard``: collects options into a :class:`~tvrkit.shards.config.ShardConfig` and runs
:func:`~tvrkit.shards.stage.run_shard`."""

from __future__ import annotations

from typing import Any

import click

from tvrkit.cli.common import drop_none, set_option


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", type=click.Path(file_okay=False), help="Dataset root (holds catalog/ and compressed/).")
@click.option("--format", "format_", type=click.Choice(["lmdb", "wds"]), help="Shard format (default wds).")
@click.option("--split", "splits", multiple=True, help="Split to shard (repeatable; default: every split).")
@click.option("--jpeg-quality", type=click.IntRange(1, 100), help="JPEG quality of stored frames (default 90).")
@click.option("--crop", type=click.Choice(["none", "center"]),
              help="Store full frames (none, default) or only the central --crop-size square (center).")
@click.option("--crop-size", type=click.IntRange(min=1),
              help="Side of the stored square with --crop center (default 224).")
@click.option("--shard-size", help="Upper bound of one wds shard, e.g. 512MB (default), 1GiB.")
@click.option("--shard-multiple", type=click.IntRange(min=1),
              help="Make the wds shard count a multiple of this, e.g. ranks x workers (default 8).")
@click.option("--workers", type=click.IntRange(min=1), help="Parallel encoding processes (default 2).")
@click.option("--keep-staging", is_flag=True, default=None, help="Keep per-video JPEG fragments after success.")
@click.option("--part", metavar="I/N|auto",
              help="Only encode share I of N of the videos (auto: this Slurm array task's); then --merge.")
@click.option("--merge", is_flag=True, default=None, help="Pack the finished parts into shards and manifests.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML shard config.")
@set_option
def shard(config_path: str | None, overrides: tuple[str, ...], format_: str | None, **options: Any) -> None:
    """Compressed videos -> JPEG frames packed per split into ROOT/shards/{format}/{split}/.

    \b
    Writes a manifest.json per split (sha256, counts, failed videos). Identical inputs give
    byte-identical shards whatever --workers is. A killed run resumes: complete shards and
    encoded videos are kept. Failed videos go to ROOT/failures.jsonl and the rest goes on.
    """
    from tvrkit.config import load_config
    from tvrkit.shards.config import ShardConfig
    from tvrkit.shards.stage import run_shard

    base = drop_none({**options, "format": format_, "splits": list(options.pop("splits"))})
    cfg = load_config("shard", ShardConfig, path=config_path, overrides=overrides, base=base)
    summary = run_shard(cfg)
    if "part" in summary:
        click.echo(f"shard {cfg.format} part {summary['part']}: {summary['ok']} videos staged, {summary['failed']} "
                   f"failed; {summary['seconds']:.1f} s (run --merge once every part has finished)")
        return
    for split, totals in sorted(summary["splits"].items()):
        click.echo(f"{split}: {totals['videos']} videos, {totals['frames']} frames in {totals['shards']} shard(s), "
                   f"{totals['bytes'] / 1e6:.1f} MB; {totals['failed']} failed")
    click.echo(f"shard {cfg.format}: {summary['ok']} videos stored, {summary['skipped']} already sharded, "
               f"{summary['failed']} failed; {summary['seconds']:.1f} s")
    if summary["failed"]:
        click.echo(f"warning: {summary['failed']} video(s) failed; see {cfg.root}/failures.jsonl", err=True)
