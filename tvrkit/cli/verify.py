"""``tvrkit verify``: runs :func:`~tvrkit.shards.verify.run_verify` and exits 1 naming each bad
shard or video."""

from __future__ import annotations

import click


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", required=True, help="Dataset root: a directory, or the URL of a root of WebDataset shards.")
@click.option("--format", "formats", multiple=True, type=click.Choice(["lmdb", "wds"]),
              help="Format to check (repeatable; default: all found).")
@click.option("--split", "splits", multiple=True, help="Split to check (repeatable; default: all found).")
@click.option("--quick", is_flag=True, help="Hashes and counts only; do not decode every frame.")
def verify(root: str, formats: tuple[str, ...], splits: tuple[str, ...], quick: bool) -> None:
    """Re-hash every shard against its manifest, check counts and decode every frame.

    Exit 0 when all is well, 1 naming each bad shard or video.
    """
    from tvrkit.errors import StageError
    from tvrkit.shards.config import VerifyConfig
    from tvrkit.shards.verify import describe_problem, run_verify

    report = run_verify(VerifyConfig(root=root, formats=formats, splits=splits, quick=quick))
    for problem in report["problems"]:
        click.echo(f"BAD {describe_problem(problem)}", err=True)
    if not report["ok"]:
        raise StageError(f"{len(report['problems'])} problem(s) in {report['shards']} shard(s)")
    click.echo(f"ok: {report['shards']} shard(s) in {len(report['splits'])} split(s)"
               + (" (quick: frames not decoded)" if quick else ", every frame decodes"))
