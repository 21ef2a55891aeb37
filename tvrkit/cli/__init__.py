"""The ``tvrkit`` command: a click group whose subcommands are imported only when run.

Each subcommand is one thin file in this package that parses options, builds a config
and calls one library function. ``COMMANDS`` maps a command name to ``module:attribute``
so ``tvrkit --help`` lists every command without importing torch or pyarrow.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from tvrkit import __version__
from tvrkit.errors import TvrkitError
from tvrkit.fsutil import is_output_error

COMMANDS: dict[str, str] = {
    "shard": "tvrkit.cli.shard:shard",
    "verify": "tvrkit.cli.verify:verify",
    "upload": "tvrkit.cli.upload:upload",
    "bench": "tvrkit.cli.bench:bench",
    "prepare": "tvrkit.cli.prepare:prepare",
    "train": "tvrkit.cli.train:train",
    "metrics": "tvrkit.cli.metrics:metrics",
    "eval": "tvrkit.cli.eval:eval_",
    "export": "tvrkit.cli.export:export",
    "index": "tvrkit.cli.index:index",
    "search": "tvrkit.cli.search:search",
    "serve": "tvrkit.cli.serve:serve",
    "config": "tvrkit.cli.config:config",
    "compare": "tvrkit.cli.compare:compare",
}

# One-line summaries shown by `tvrkit --help` without importing the command modules.
SUMMARIES: dict[str, str] = {
    "config": "The shipped configs: `config list` names them, `config show NAME` prints one to edit.",
    "shard": "Compressed videos -> JPEG frames in LMDB or WebDataset shards + manifest, per split.",
    "verify": "Re-hash shards against their manifest, check counts, decode every frame; exit 1 naming bad ones.",
    "upload": "Copy a root's catalog and WebDataset shards to s3:// (or any fsspec URL), sha256-checked, resumable.",
    "bench": "Throughput probes against floors measured in the same run (loader, train).",
    "prepare": "Annotations -> catalog; raw videos -> compressed mp4 (3 fps, short side 224).",
    "train": "Train a retrieval model from a YAML config (one process or DDP under torchrun; --resume).",
    "metrics": "Evaluate a similarity matrix: R@K/MdR/MnR both ways, tie policy, DSL/SK/QB post-processing.",
    "eval": "Evaluate a checkpoint: embed once, coarse-to-fine ranking, metrics, plots and report.html.",
    "export": "Write a split's global video and text embeddings to parquet for downstream indexes.",
    "index": "A folder of your videos -> a searchable index (compress, embed once, FAISS); incremental.",
    "search": "Top-K videos of an index for a text query, with scores and the best-matching moment.",
    "serve": "A search page and JSON API for an index (localhost; plays clips from the matched moment).",
    "compare": "Train and evaluate every published method under one protocol: seeds, intervals, costs.",
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that command is invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # The group's own --help lists commands from SUMMARIES instead of importing them.
        rows = [(name, SUMMARIES.get(name, "")) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class _Console(logging.StreamHandler):
    """The terminal's log lines: tvrkit's own from ``own`` up, other libraries' from ``others`` up
    (their INFO lines, e.g. open_clip's model-building chatter, only with ``-v``). It writes to
    whatever ``sys.stderr`` is at the time, so click's and pytest's captures see it."""

    own, others = logging.INFO, logging.WARNING

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:  # StreamHandler.__init__ assigns one: always sys.stderr instead
        pass

    def filter(self, record: logging.LogRecord) -> bool:
        ours = record.name == "tvrkit" or record.name.startswith("tvrkit.")
        return record.levelno >= (self.own if ours else self.others) and super().filter(record)


def _setup_logging(verbose: int, quiet: bool) -> None:
    """Default: tvrkit's INFO lines and every library's warnings; ``-v`` adds the libraries' INFO
    lines, ``-vv`` everyone's DEBUG, ``-q`` leaves warnings and errors only."""
    own = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    root = logging.getLogger()
    console = next((h for h in root.handlers if isinstance(h, _Console)), None)
    if console is None:
        console = _Console()
        console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(console)
    console.own, console.others = own, (own if verbose else logging.WARNING)
    root.setLevel(own)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tvrkit")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """tvrkit: text-video retrieval, from raw videos and captions to honest metrics.

    \b
    Stages:  prepare -> shard -> train -> eval
    Exit status: 0 ok, 1 a stage failed, 2 usage or config error.
    """
    ctx.ensure_object(dict)
    ctx.obj["quiet"] = quiet
    _setup_logging(verbose, quiet)


def main(argv: list[str] | None = None) -> Any:
    """Console entry point: maps tvrkit errors to exit codes (1 stage, 2 config)."""
    try:
        return cli.main(args=argv, prog_name="tvrkit", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except TvrkitError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except OSError as exc:  # a full, read-only or foreign output met mid-stage: a message, not a traceback
        if not is_output_error(exc):
            raise
        where = f" {exc.filename}" if exc.filename else ""
        click.echo(f"error: cannot write{where}: {exc.strerror or exc}; free space or choose a writable output",
                   err=True)
        sys.exit(1)
