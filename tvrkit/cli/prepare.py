"""``tvrkit prepare DATASET``: collects options into a :class:`~tvrkit.prepare.PrepareConfig`
and runs :func:`~tvrkit.prepare.run_prepare`."""

from __future__ import annotations

from typing import Any

import click

from tvrkit.cli.common import drop_none, set_option


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("dataset", metavar="DATASET")
@click.option("--root", required=True, type=click.Path(file_okay=False), help="Dataset root folder (ROOT).")
@click.option("--videos-dir", type=click.Path(file_okay=False), help="Folder with the raw videos (nested ok).")
@click.option("--annotations", type=click.Path(exists=True), help="Annotation archive or folder you already have.")
@click.option("--annotations-url", help="Download the annotations from this URL instead.")
@click.option("--captions", type=click.Path(dir_okay=False),
              help="custom: CSV/JSONL of video_id, caption[, split, start, end].")
@click.option("--test-fraction", type=float, help="custom without a split column: fraction of videos for test.")
@click.option("--videos", type=int, help="synthetic: number of videos to generate.")
@click.option("--seed", type=int, help="synthetic: generation seed.")
@click.option("--skip-videos", is_flag=True, default=None, help="Only build the catalog (videos stay pending).")
@click.option("--workers", type=int, help="Parallel ffmpeg processes (default: one per core).")
@click.option("--fps", type=float, help="Output frames per second (default 3).")
@click.option("--size", type=int, help="Output short side in pixels (default 224).")
@click.option("--timeout", type=float, help="Seconds per video before ffmpeg is killed (default 600).")
@click.option("--part", metavar="I/N|auto",
              help="Compress only share I of N (1-based); auto: this Slurm array task's share. Then --merge.")
@click.option("--merge", is_flag=True, default=None,
              help="Write the catalog and failure log from the finished parts (ROOT/parts/prepare/).")
@click.option("--strict", is_flag=True, default=None, help="Exit 1 when any video is missing or failed.")
@set_option
def prepare(dataset: str, overrides: tuple[str, ...], **options: Any) -> None:
    """Annotations -> ROOT/catalog; raw videos -> ROOT/compressed (H.264, 3 fps, short side 224).

    \b
    DATASET: msrvtt, msvd, didemo, activitynet, lsmdc, vatex, charades, custom, synthetic.
    Failures go to ROOT/failures.jsonl and the run goes on; exit 0 with a warning
    (1 with --strict). Re-runs skip outputs that probe valid.
    """
    from tvrkit.prepare import load_prepare_config, run_prepare

    compress = drop_none({k: options.pop(k) for k in ("workers", "fps", "size", "timeout")})
    base = {"dataset": dataset, **drop_none(options)}
    if compress:
        base["compress"] = compress
    cfg = load_prepare_config(overrides, base)
    summary = run_prepare(cfg)
    click.echo(
        f"prepare {cfg.dataset}: {summary['ok']} compressed, {summary['skipped']} already valid, "
        f"{summary['failed']} failed ({summary['missing']} missing) of {summary['processed']} videos; "
        f"{summary['captions']} captions; {summary['seconds']:.1f} s"
    )
    if summary.get("missing_splits"):
        click.echo(f"not built (no annotation file): split(s) {', '.join(summary['missing_splits'])}")
