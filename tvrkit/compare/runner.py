"""Run a comparison: every (variant, seed) as an ordinary ``tvrkit train`` + ``tvrkit eval`` run under
``OUT/<variant>/seed<s>/``, each in its own process (so its peak memory is its own), skipping what a
previous invocation finished and resuming what it interrupted; then the table (``report``).

A run that fails is recorded (``OUT/failures.jsonl``, stage ``compare``) and the others go on; the
stage then ends with a :class:`~tvrkit.errors.StageError` so that a method that cannot train under the
protocol is seen, not dropped.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from tvrkit.compare import protocol
from tvrkit.compare.config import CompareConfig
from tvrkit.compare.report import write_reports
from tvrkit.errors import StageError
from tvrkit.fsutil import write_text_atomic
from tvrkit.runlog import FailureLog
from tvrkit.train.config import load_train_config

log = logging.getLogger(__name__)


def _run(argv: list[str], log_path: Path) -> tuple[int, float, float]:
    """Run ``argv`` with its output in ``log_path``; (exit code, wall seconds, peak RSS in MiB)."""
    t0 = time.perf_counter()
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)  # the child's own rusage: its peak RSS, not the maximum so far
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
    return proc.returncode, time.perf_counter() - t0, usage.ru_maxrss / 1024.0


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _count_parameters(checkpoint: Path) -> int:
    """Parameters of the trained model (every tensor of the checkpoint's ``model`` state)."""
    import torch

    state = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)["model"]
    return int(sum(t.numel() for t in state.values() if hasattr(t, "numel")))


def _ms_per_query_1k(metrics: dict[str, Any]) -> float | None:
    """Text->video ranking milliseconds per query: the coarse part scaled to a 1,000-video gallery, the
    top-K re-ranking as measured (it does not grow with the gallery); the dense scoring time otherwise."""
    n_texts, n_videos = metrics.get("n_texts") or 0, metrics.get("n_videos") or 0
    if not n_texts or not n_videos:
        return None
    proto = metrics.get("protocol") or {}
    c2f = proto.get("coarse_to_fine")
    if c2f and c2f.get("seconds"):
        secs = c2f["seconds"]["t2v"]
        return 1000.0 * (secs["global"] * 1000.0 / n_videos + (secs["fine"] or 0.0)) / n_texts
    if "dense_scoring_seconds" in proto:
        return 1000.0 * proto["dense_scoring_seconds"] * 1000.0 / n_videos / n_texts
    return None


def run_one(cfg: CompareConfig, variant: protocol.Variant, seed: int, config_path: Path) -> dict[str, Any]:
    """Train and evaluate one (variant, seed), reusing whatever a previous invocation finished."""
    run = Path(cfg.out) / variant.name / f"seed{seed}"
    run.mkdir(parents=True, exist_ok=True)
    sets = [f"train.seed={seed}", f"data.seed={seed}", *cfg.overrides]
    set_args = [a for s in sets for a in ("--set", s)]
    tvrkit = [sys.executable, "-m", "tvrkit", "-q"]
    result: dict[str, Any] = {"seed": seed}
    summary = _read_json(run / "summary.json")
    if not (summary and summary.get("status") == "completed"):
        code, _, rss = _run([*tvrkit, "train", "--config", str(config_path), "--out", str(run), "--resume",
                             *set_args], run / "train.log")
        summary = _read_json(run / "summary.json")
        if code != 0 or not summary or summary.get("status") != "completed":
            raise StageError(f"{variant.name} seed {seed}: training failed (exit {code}); see {run / 'train.log'}")
        result["train_peak_rss_mib"] = rss
    checkpoint = run / "checkpoints" / "best.pt"
    metrics = _read_json(run / "eval" / "metrics.json")
    if metrics is None:
        split = ["--split", cfg.split] if cfg.split else []
        code, _, rss = _run([*tvrkit, "eval", "--checkpoint", str(checkpoint), "--out", str(run / "eval"), *split],
                            run / "eval.log")
        metrics = _read_json(run / "eval" / "metrics.json")
        if code != 0 or metrics is None:
            raise StageError(f"{variant.name} seed {seed}: evaluation failed (exit {code}); see {run / 'eval.log'}")
        result["eval_peak_rss_mib"] = rss
    eval_summary = _read_json(run / "eval" / "summary.json") or {}
    result.update(metrics=metrics, train_seconds=summary.get("train_seconds") or summary.get("seconds"),
                  eval_seconds=eval_summary.get("seconds"), parameters=_count_parameters(checkpoint),
                  ms_per_query_1k=_ms_per_query_1k(metrics))
    runs_file = run / "compare.run.json"  # costs survive a re-run that skips the finished stages
    previous = _read_json(runs_file) or {}
    for key in ("train_peak_rss_mib", "eval_peak_rss_mib"):
        result.setdefault(key, previous.get(key))
    write_text_atomic(runs_file, json.dumps({k: v for k, v in result.items() if k != "metrics"}, indent=1))
    return result


def run_compare(cfg: CompareConfig) -> dict[str, Any]:
    """Every selected variant x seed under the base protocol; writes ``compare.json``, ``compare.md`` and
    ``compare.html`` to ``cfg.out`` and returns the compare.json document."""
    base = protocol.base_document(cfg)
    variants = protocol.select_variants(cfg, protocol.recipe_variants(cfg))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    failures = FailureLog(out, "compare")
    rows, failed = [], []
    seeds = list(range(cfg.first_seed, cfg.first_seed + cfg.seeds))
    planned = []
    for variant in variants:  # every row's config is validated before the first run starts
        doc, aligned = protocol.row_config(cfg, base, variant)
        load_train_config(base=doc, overrides=(f"train.seed={seeds[0]}", *cfg.overrides))
        planned.append((variant, doc, aligned))
    for variant, doc, aligned in planned:
        config_path = out / variant.name / "config.yaml"
        config_path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(config_path, yaml.safe_dump(doc, sort_keys=False))
        per_seed = []
        for seed in seeds:
            log.info("compare: %s seed %d", variant.name, seed)
            try:
                per_seed.append(run_one(cfg, variant, seed, config_path))
            except StageError as exc:
                failures.record(f"{variant.name}/seed{seed}", str(exc))
                failed.append(str(exc))
        if len(per_seed) == len(seeds):
            rows.append({"variant": variant, "aligned": aligned, "runs": per_seed})
    failures.finalize()
    doc = write_reports(cfg, protocol.protocol_summary(cfg, str(cfg.base)), rows, failed)
    if failed:
        raise StageError(f"compare: {len(failed)} run(s) failed (first: {failed[0]}); table of the rest in {out}")
    return doc
