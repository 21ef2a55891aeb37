"""``tvrkit bench``: the throughput probes (``loader``, ``train``), each a thin wrapper over the
``run_*`` function of its :mod:`tvrkit.probe` module. ``make bench`` runs the full suite in ``benchmarks/``."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def bench() -> None:
    """Throughput probes on your data, each printed next to the limit it is measured against
    (a checkout's `make bench` runs every stage benchmark)."""


@bench.command("loader")
@click.option("--root", required=True, type=click.Path(exists=True, file_okay=False), help="Dataset root.")
@click.option("--split", required=True, help="Split to read (shard it in lmdb and wds first).")
@click.option("--format", "formats", multiple=True, type=click.Choice(["lmdb", "wds", "raw"]),
              help="Loader to measure (repeatable; default all three).")
@click.option("--workers", type=click.IntRange(min=0), default=2, show_default=True,
              help="DataLoader workers, and floor processes.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--image-size", type=click.IntRange(min=1), default=224, show_default=True)
@click.option("--max-frames", type=click.IntRange(min=1), default=12, show_default=True)
@click.option("--frame-rate", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Sampling rate in fps (3 = every stored frame).")
@click.option("--passes", type=click.IntRange(min=1), default=3, show_default=True,
              help="Timed passes over the split after one warm-up pass (best counts).")
@click.option("--device", help="Also move and normalise each batch on this device (e.g. cuda), as training does.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the results here.")
def loader(root: str, split: str, formats: tuple[str, ...], workers: int, batch_size: int, image_size: int,
           max_frames: int, frame_rate: float, passes: int, device: str | None, json_path: str | None) -> None:
    """samples/s and frames/s of the lmdb, wds and raw loaders vs the JPEG decode floor."""
    from tvrkit.fsutil import write_json_atomic
    from tvrkit.probe.loader import LoaderBenchConfig, format_report, run_loader_bench

    cfg = LoaderBenchConfig(root=root, split=split, formats=formats or ("lmdb", "wds", "raw"), workers=workers,
                            batch_size=batch_size, image_size=image_size, max_frames=max_frames,
                            frame_rate=frame_rate, passes=passes, device=device)
    result = run_loader_bench(cfg)
    click.echo(format_report(result))
    if json_path:
        write_json_atomic(json_path, result)


@bench.command("train")
@click.option("--config", "config_path", default="demo", show_default=True,
              help="Train config to measure: a shipped config's name or a YAML path.")
@click.option("--format", "formats", multiple=True, type=click.Choice(["lmdb", "wds", "raw"]),
              help="Loader format (repeatable; default all three).")
@click.option("--warmup", type=click.IntRange(min=1), default=5, show_default=True,
              help="Steps before measuring (also the log window).")
@click.option("--steps", type=click.IntRange(min=1), default=30, show_default=True,
              help="Measured steps (a multiple of --warmup).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a train config key.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the results here.")
def train(config_path: str, formats: tuple[str, ...], warmup: int, steps: int, overrides: tuple[str, ...],
          json_path: str | None) -> None:
    """Trainer samples/s per loader format and the share of step time waiting for data."""
    from tvrkit.fsutil import write_json_atomic
    from tvrkit.probe.train import FORMATS, TrainBenchConfig, format_report, run_train_bench

    cfg = TrainBenchConfig(config=config_path, overrides=overrides, formats=formats or FORMATS, warmup=warmup,
                           steps=steps)
    result = run_train_bench(cfg)
    click.echo(format_report(result))
    if json_path:
        write_json_atomic(json_path, result)
