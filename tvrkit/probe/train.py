"""Training probe: samples/s of the real trainer on a config (the demo by default) with
each loader format, and the share of step time spent waiting for the loader.

Each format trains ``warmup + steps`` optimizer steps through :func:`run_train` into a
temporary run directory; the JSONL log's windows after the warm-up are combined (equal
sample counts per window, so the overall rate is their harmonic mean and the waiting share
is weighted by each window's time). A waiting share near zero means the loader keeps up
and the model is the bottleneck.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

from tvrkit.errors import StageError

FORMATS = ("lmdb", "wds", "raw")


@dataclasses.dataclass(frozen=True)
class TrainBenchConfig:
    """What to measure: a train config (+ overrides), the formats and how many steps."""

    config: str = "demo"  # a shipped config's name or a YAML path
    overrides: tuple[str, ...] = ()
    formats: tuple[str, ...] = FORMATS
    warmup: int = 5  # steps before measuring: worker start-up, first-touch allocations
    steps: int = 30


def measured_windows(records: list[dict[str, Any]], warmup: int) -> dict[str, float]:
    """Combine the log's train windows after step ``warmup`` (all windows must be equally long)."""
    windows = [r for r in records if r.get("type") == "train" and r["step"] > warmup]
    if not windows:
        raise StageError("no measured training window: raise steps")
    times = [1.0 / r["samples_per_s"] for r in windows]  # per sample of each (equal-size) window
    return {
        "samples_per_s": len(windows) / sum(times),
        "data_wait": sum(r["data_wait"] * t for r, t in zip(windows, times, strict=True)) / sum(times),
        "windows": float(len(windows)),
    }


def run_train_bench(cfg: TrainBenchConfig) -> dict[str, Any]:
    """Train briefly with each format and return the rates (see the module docstring)."""
    from tvrkit.train import load_train_config, run_train
    from tvrkit.train.jsonlog import LOG_FILE, read_log

    rows: dict[str, dict[str, float]] = {}
    for fmt in cfg.formats:
        train_cfg = load_train_config(cfg.config, (*cfg.overrides, f"data.format={fmt}",
                                                   "train.epochs=null", f"train.steps={cfg.warmup + cfg.steps}",
                                                   f"train.log_every={cfg.warmup}", "train.select_on=none",
                                                   "train.progress=false", "train.keep_last=1"))
        if cfg.steps % cfg.warmup:
            raise StageError(f"steps ({cfg.steps}) must be a multiple of warmup ({cfg.warmup}): equal windows")
        with tempfile.TemporaryDirectory(prefix="tvrkit-bench-train-") as out:
            summary = run_train(train_cfg, Path(out))
            rows[fmt] = {**measured_windows(read_log(Path(out) / LOG_FILE), cfg.warmup),
                         "batch_size": float(train_cfg.data.batch_size), "workers": float(train_cfg.data.workers),
                         "seconds": summary["seconds"]}
    return {"config": dataclasses.asdict(cfg), "rates": rows}


def format_report(result: dict[str, Any]) -> str:
    """One line per format: samples/s and the share of step time spent waiting for data."""
    cfg = result["config"]
    lines = [f"train benchmark: {cfg['config']} {' '.join(cfg['overrides'])}".rstrip()
             + f", {cfg['steps']} measured steps after {cfg['warmup']}",
             f"{'loader':<8}{'samples/s':>11}{'data wait':>11}{'batch':>7}{'workers':>9}{'run s':>8}"]
    for fmt, row in result["rates"].items():
        lines.append(f"{fmt:<8}{row['samples_per_s']:>11.1f}{100 * row['data_wait']:>10.1f}%"
                     f"{int(row['batch_size']):>7}{int(row['workers']):>9}{row['seconds']:>8.1f}")
    return "\n".join(lines)
