"""``tvrkit bench``: a group of throughput benchmarks (``loader``, ``train``, ``search``, ``gpu``), each
a thin wrapper over the ``run_*`` function of its :mod:`benchmarks` module."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def bench() -> None:
    """Throughput benchmarks, each printed next to the limit it is measured against."""


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
    from benchmarks.loader import LoaderBenchConfig, format_report, run_loader_bench
    from tvrkit.fsutil import write_json_atomic

    cfg = LoaderBenchConfig(root=root, split=split, formats=formats or ("lmdb", "wds", "raw"), workers=workers,
                            batch_size=batch_size, image_size=image_size, max_frames=max_frames,
                            frame_rate=frame_rate, passes=passes, device=device)
    result = run_loader_bench(cfg)
    click.echo(format_report(result))
    if json_path:
        write_json_atomic(json_path, result)


@bench.command("train")
@click.option("--config", "config_path", default="configs/demo.yaml", show_default=True,
              type=click.Path(exists=True, dir_okay=False), help="Train config to measure.")
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
    from benchmarks.train import FORMATS, TrainBenchConfig, format_report, run_train_bench
    from tvrkit.fsutil import write_json_atomic

    cfg = TrainBenchConfig(config=config_path, overrides=overrides, formats=formats or FORMATS, warmup=warmup,
                           steps=steps)
    result = run_train_bench(cfg)
    click.echo(format_report(result))
    if json_path:
        write_json_atomic(json_path, result)


@bench.command("search")
@click.option("--sizes", multiple=True, type=click.IntRange(min=1000),
              help="Library sizes for the latency rows (repeatable; default 100000 and 1000000).")
@click.option("--videos", type=click.IntRange(min=0), default=40, show_default=True,
              help="Synthetic videos `tvrkit index` builds from for the build time (0 skips it).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the results here.")
def search(sizes: tuple[int, ...], videos: int, json_path: str | None) -> None:
    """Query latency p50/p99 of exact and IVF-PQ search (recall@10 against exact) and index build time."""
    from benchmarks.search import SearchBenchConfig, format_report, run_search_bench
    from tvrkit.fsutil import write_json_atomic

    cfg = SearchBenchConfig(sizes=sizes or SearchBenchConfig.sizes, videos=videos)
    result = run_search_bench(cfg)
    click.echo(format_report(result))
    if json_path:
        write_json_atomic(json_path, result)


@bench.command("gpu")
@click.option("--out", default="bench/results-gpu.md", show_default=True, type=click.Path(dir_okay=False),
              help="Where the table goes.")
@click.option("--data", default=".gpu/data", show_default=True,
              help="Dataset root with small wds shards (`make gpu-bundle` builds it).")
@click.option("--budget", type=click.FloatRange(min=1), default=450.0, show_default=True,
              help="Seconds for all sections; the rest are skipped and say so.")
@click.option("--quick", is_flag=True, help="Toy sizes: a smoke run whose figures mean nothing.")
@click.option("--allow-cpu", is_flag=True, help="Run on the CPU when there is no CUDA device (with --quick).")
def gpu(out: str, data: str, budget: float, quick: bool, allow_cpu: bool) -> None:
    """Training step per method and precision, trainer data wait by worker count, GPU JPEG decode
    and gallery-scale ranking on a CUDA device, each beside its same-run reference."""
    from benchmarks.gpu import GpuBenchConfig, run_gpu_bench

    kw = {"out": out, "data": data, "budget_s": budget, "allow_cpu": allow_cpu}
    cfg = GpuBenchConfig.quick(**kw) if quick else GpuBenchConfig(**kw)
    for row in run_gpu_bench(cfg):
        click.echo(" | ".join(row))
