"""Streaming benchmark: training from a URL root served on 127.0.0.1 against the same root
read from the local disk, in one run on the same cores.

Two measurements, each for the local root (random access by tar offset), the same shards
streamed from ``file://`` (the streaming path without a network) and from Python's
``http.server`` on 127.0.0.1:
- loader: samples/s of one epoch of the training loader alone (no model), the data path's
  own speed;
- train: samples/s of the real trainer on the config (the demo by default), which is what a
  user gets; streaming from 127.0.0.1 should keep >= 0.8x the local root's rate.
The printed ``ratio`` is http / local training samples/s.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.servers import http_server


@dataclasses.dataclass(frozen=True)
class StreamBenchConfig:
    """The sharded root to serve, the train config and how many steps to measure."""

    root: str = "data/synthetic"
    config: str = "demo"  # a shipped config's name or a YAML path
    warmup: int = 5
    steps: int = 30


def _loader_rate(config: str, root: str) -> float:
    """Samples/s of the training loader alone over its second epoch (the first warms the page
    cache, the decoders and the server, whichever source goes first)."""
    from tvrkit.data.loader import build_train_loader
    from tvrkit.data.streaming import resolve_root
    from tvrkit.train import load_train_config

    data = resolve_root(load_train_config(config, (f"data.root={root}",)).data)
    for epoch in (0, 1):
        started, samples = time.perf_counter(), 0
        for batch in build_train_loader(data, 32, epoch=epoch):
            samples += len(batch["caption_ids"])
    return samples / (time.perf_counter() - started)


def run_stream_bench(cfg: StreamBenchConfig) -> dict[str, Any]:
    """Measure every source (see the module docstring) and return the rates and ratios."""
    from tvrkit.probe.train import TrainBenchConfig, run_train_bench

    root = Path(cfg.root).resolve()
    server = http_server(root.parent).start()
    previous = os.environ.get("TVRKIT_CACHE")
    try:
        with tempfile.TemporaryDirectory(prefix="tvrkit-bench-stream-") as cache:
            os.environ["TVRKIT_CACHE"] = cache  # a fresh mirror: nothing of an earlier run is reused
            sources = {"local": str(root), "file://": root.as_uri(), "http 127.0.0.1": f"{server.url}/{root.name}"}
            loader = {name: _loader_rate(cfg.config, url) for name, url in sources.items()}
            train = {}
            for name in sources:
                bench = TrainBenchConfig(config=cfg.config, overrides=(f"data.root={sources[name]}",),
                                         formats=("wds",), warmup=cfg.warmup, steps=cfg.steps)
                train[name] = run_train_bench(bench)["rates"]["wds"]
    finally:
        server.stop()
        if previous is None:
            os.environ.pop("TVRKIT_CACHE", None)
        else:
            os.environ["TVRKIT_CACHE"] = previous
    ratio = train["http 127.0.0.1"]["samples_per_s"] / train["local"]["samples_per_s"]
    return {"config": dataclasses.asdict(cfg), "sources": sources, "loader": loader, "train": train,
            "ratio": ratio, "file_ratio": train["file://"]["samples_per_s"] / train["local"]["samples_per_s"],
            "loader_ratio": loader["http 127.0.0.1"] / loader["local"],
            "file_loader_ratio": loader["file://"] / loader["local"]}


def format_report(r: dict[str, Any]) -> str:
    """The loader and training rates per source, and the ratios."""
    lines = [f"streaming benchmark: {r['config']['config']} on {r['config']['root']}, "
             f"{r['config']['steps']} measured steps after {r['config']['warmup']}",
             f"{'source':<16}{'loader samples/s':>18}{'train samples/s':>17}{'data wait':>11}"]
    for name, rate in r["loader"].items():
        train = r["train"][name]
        lines.append(f"{name:<16}{rate:>18.1f}{train['samples_per_s']:>17.1f}{100 * train['data_wait']:>10.1f}%")
    lines.append(f"ratio (http / local training samples/s): {r['ratio']:.2f} (target >= 0.8); file:// streaming "
                 f"{r['file_ratio']:.2f}x of local random access in training, {r['file_loader_ratio']:.2f}x in the "
                 f"loader alone (http {r['loader_ratio']:.2f}x)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=StreamBenchConfig.root, help="a sharded root (wds)")
    parser.add_argument("--config", default=StreamBenchConfig.config)
    parser.add_argument("--steps", type=int, default=StreamBenchConfig.steps)
    parser.add_argument("--warmup", type=int, default=StreamBenchConfig.warmup)
    args = parser.parse_args(argv)
    print(format_report(run_stream_bench(StreamBenchConfig(args.root, args.config, args.warmup, args.steps))))


if __name__ == "__main__":
    main()
