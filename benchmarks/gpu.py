"""``python -m benchmarks.gpu``: what a GPU makes of tvrkit, each figure next to its reference from
the same run, in one table (``bench/results-gpu.md``).

Sections (each timed against a budget; one that would overrun is skipped and says so):

1. matmul: the GPU's measured bf16 matrix-product rate (the reference for 2.).
2. step: one training step (forward, backward, optimiser) of ViT-B/32 with 12 frames at batch
   128 on random weights and random inputs, for each shipped method config and each precision
   (fp32, bf16 autocast, the fp16 reference regime), then with ``torch.compile``: samples/s,
   peak GPU memory, and the achieved fraction of the matmul rate (FLOPs counted by
   ``torch.utils.flop_counter`` on one step).
3. train: ``tvrkit train`` end to end on small real shards (made by
   :mod:`benchmarks.offline_bundle`), with 4, 8 and 16 loader workers: samples/s and the share of
   step time spent waiting for data.
4. decode: JPEG frames of those shards decoded on the GPU (``torchvision.io.decode_jpeg`` on a
   batch, ``device="cuda"``) vs CPU worker processes decoding the same frames.
5. eval: the global ranking of 1,000,000 videos x 10,000 queries (D=512) on the GPU, seconds and
   peak memory, against the CPU figure in ``bench/results.md``.

A GPU image's torch may be older than tvrkit's pin: only APIs that torch 2.11 has are used here
and on the CUDA paths. ``--allow-cpu --quick`` runs every section on the CPU
at toy sizes, which is how the test suite checks this module.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import multiprocessing
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from tvrkit.config.shipped import SHIPPED_DIR
from tvrkit.errors import ConfigError

Row = tuple[str, str, str, str]  # what, figure, reference, ratio
PRECISIONS = ("fp32", "bf16", "fp16-reference")


@dataclasses.dataclass(frozen=True)
class GpuBenchConfig:
    out: str = "bench/results-gpu.md"
    data: str | None = "bench/out/offline/data"  # small real shards from offline_bundle (sections 3 and 4)
    configs: str = "msrvtt-*-vit-b32"  # shipped config names (a glob), or a glob of YAML paths
    batch_size: int = 128
    frames: int = 12
    arch: str = "ViT-B-32"
    steps: int = 5
    warmup: int = 2
    workers: tuple[int, ...] = (4, 8, 16)
    eval_videos: int = 1_000_000
    eval_queries: int = 10_000
    budget_s: float = 450.0
    allow_cpu: bool = False

    @classmethod
    def quick(cls, **kw: Any) -> GpuBenchConfig:
        """Toy sizes: every code path in seconds (figures then mean nothing)."""
        base = dict(batch_size=2, frames=2, arch="tvrkit-tiny", steps=1, warmup=1, workers=(0,),
                    eval_videos=2_000, eval_queries=50)
        return cls(**{**base, **kw})


def _device(cfg: GpuBenchConfig) -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    if not cfg.allow_cpu:
        raise ConfigError("the GPU benchmark needs a CUDA device (torch.cuda.is_available() is false); "
                          "--allow-cpu --quick runs it on the CPU as a smoke test")
    return torch.device("cpu")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_mib(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} MiB"


# ---- 1. matmul rate ----------------------------------------------------------------------------
def matmul_tflops(device: torch.device, n: int, iters: int = 10) -> float:
    """bf16 ``n x n x n`` products per second, in TFLOP/s (mean of ``iters`` after 3 warm-ups)."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    _sync(device)
    started = time.perf_counter()
    for _ in range(iters):
        a @ b
    _sync(device)
    return 2 * n**3 * iters / (time.perf_counter() - started) / 1e12


# ---- 2. training step --------------------------------------------------------------------------
def _train_config(path: str, cfg: GpuBenchConfig) -> Any:
    from tvrkit.train import load_train_config

    arch = {"arch": cfg.arch} if cfg.arch == "tvrkit-tiny" else {"name": cfg.arch, "arch": None}
    train = load_train_config(path)
    backbone = dataclasses.replace(train.model.backbone, pretrained=None, **arch)
    return dataclasses.replace(train, model=dataclasses.replace(train.model, backbone=backbone))


def _inputs(batch: int, frames: int, size: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    from tvrkit.data.tokenize import tokenize

    captions = [f"a person does thing number {i} in a room with {i % 3 + 1} chairs" for i in range(batch)]
    return (tokenize(captions, 32).to(device), torch.randn(batch, frames, 3, size, size, device=device),
            torch.ones(batch, frames, dtype=torch.bool, device=device))


def _stepper(train: Any, precision: str, device: torch.device, compiled: bool) -> tuple[Any, Callable[..., float]]:
    """The model of ``train`` and a function doing one optimiser step on a batch (the trainer's
    order: autocast forward, scaled backward, unscale, clip, step)."""
    from tvrkit.models import build_model
    from tvrkit.train.optim import build_optimizer
    from tvrkit.train.precision import autocast, grad_scaler, prepare_model

    torch.manual_seed(0)
    model = build_model(train.model).to(device).train()
    prepare_model(model, precision)
    optimizer = build_optimizer(model, train.optim, backbone=model.backbone_module)
    scaler = grad_scaler(precision, device)
    forward = torch.compile(model) if compiled else model
    params = [p for p in model.parameters() if p.requires_grad]

    def step(tokens: torch.Tensor, frames: torch.Tensor, mask: torch.Tensor) -> float:
        with autocast(precision, device):
            loss, _ = forward(tokens, frames, mask)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    return model, step


def _step_flops(train: Any, device: torch.device, batch: tuple[torch.Tensor, ...]) -> float:
    """FLOPs of one fp32 training step (forward + backward), counted on the real shapes."""
    from torch.utils.flop_counter import FlopCounterMode

    _, step = _stepper(train, "fp32", device, compiled=False)
    with FlopCounterMode(display=False) as counter:
        step(*batch)
    return float(counter.get_total_flops())


def time_step(train: Any, precision: str, device: torch.device, cfg: GpuBenchConfig,
              compiled: bool = False) -> dict[str, Any]:
    """samples/s and peak memory of ``train``'s model at ``precision`` (median of ``cfg.steps``)."""
    _reset_peak(device)
    model, step = _stepper(train, precision, device, compiled)
    batch = _inputs(cfg.batch_size, cfg.frames, model.image_size, device)
    for _ in range(cfg.warmup):
        step(*batch)
    times = []
    for _ in range(cfg.steps):
        _sync(device)
        started = time.perf_counter()
        loss = step(*batch)
        _sync(device)
        times.append(time.perf_counter() - started)
    seconds = sorted(times)[len(times) // 2]
    return {"samples_per_s": cfg.batch_size / seconds, "seconds": seconds, "peak_mib": _peak_mib(device),
            "loss": loss, "image_size": model.image_size}


def step_rows(cfg: GpuBenchConfig, device: torch.device, tflops: float, deadline: float) -> list[Row]:
    rows: list[Row] = []
    paths = sorted(glob.glob(cfg.configs)) or sorted(str(p) for p in SHIPPED_DIR.glob(f"{cfg.configs}.yaml"))
    if not paths:
        raise ConfigError(f"no config matches {cfg.configs}")
    flops = None
    for path in paths:
        train = _train_config(path, cfg)
        name = f"{Path(path).stem} ({train.model.method})"
        runs = [(p, False) for p in PRECISIONS] + ([("bf16", True)] if path == paths[0] else [])
        if device.type != "cuda" and runs[-1][1]:  # inductor's C++ build takes minutes on a CPU
            runs.pop()
            rows.append((f"step {name} bf16 + torch.compile", "skipped: CUDA only", "-", "-"))
        fp32 = None
        for precision, compiled in runs:
            label = f"step {name} {precision}{' + torch.compile' if compiled else ''}"
            if time.monotonic() > deadline:
                rows.append((label, "skipped: time budget spent", "-", "-"))
                continue
            try:
                r = time_step(train, precision, device, cfg, compiled)
            except Exception as exc:  # a precision or compile path that breaks is a finding, not a crash
                rows.append((label, f"failed: {type(exc).__name__}: {str(exc)[:120]}", "-", "-"))
                continue
            if flops is None:
                flops = _step_flops(train, device, _inputs(cfg.batch_size, cfg.frames, r["image_size"], device))
            fp32 = fp32 or r["samples_per_s"]
            achieved = flops / r["seconds"] / 1e12
            rows.append((label, f"{r['samples_per_s']:.1f} samples/s, peak {_mib(r['peak_mib'])}",
                         f"fp32 {fp32:.1f} samples/s; bf16 matmul {tflops:.0f} TFLOP/s",
                         f"{r['samples_per_s'] / fp32:.2f}x fp32; {100 * achieved / tflops:.1f}% of matmul rate"))
    return rows


# ---- 3. trainer end to end ---------------------------------------------------------------------
def train_rows(cfg: GpuBenchConfig, deadline: float) -> list[Row]:
    from tvrkit.probe.train import TrainBenchConfig, run_train_bench

    if not cfg.data or not Path(cfg.data, "catalog").is_dir():
        return [("train end to end", f"skipped: no shards at {cfg.data} (make offline-bundle)", "-", "-")]
    import tempfile

    import yaml

    from tvrkit.config.load import read_yaml
    from tvrkit.config.shipped import resolve_config_path

    doc = read_yaml(resolve_config_path("demo"))
    doc["model"]["backbone"] = {"arch": cfg.arch} if cfg.arch == "tvrkit-tiny" else {"name": cfg.arch}
    doc["data"].update(root=cfg.data, batch_size=cfg.batch_size, max_frames=cfg.frames, frame_rate=1.0,
                       val_split=None)
    doc["train"].update(precision="auto", threads=None)
    rows: list[Row] = []
    base = None
    with tempfile.TemporaryDirectory(prefix="tvrkit-bench-gpu-") as tmp:
        config = Path(tmp) / "train.yaml"
        config.write_text(yaml.safe_dump(doc), encoding="utf-8")
        for workers in cfg.workers:
            label = f"tvrkit train, {workers} loader workers"
            if time.monotonic() > deadline:
                rows.append((label, "skipped: time budget spent", "-", "-"))
                continue
            result = run_train_bench(TrainBenchConfig(config=str(config), overrides=(f"data.workers={workers}",),
                                                      formats=("wds",), warmup=cfg.warmup, steps=cfg.warmup * 2))
            r = result["rates"]["wds"]
            base = base or r["samples_per_s"]
            rows.append((label, f"{r['samples_per_s']:.1f} samples/s, {100 * r['data_wait']:.1f}% waiting for data",
                         f"{cfg.workers[0]} workers: {base:.1f} samples/s", f"{r['samples_per_s'] / base:.2f}x"))
    return rows


# ---- 4. JPEG decode ----------------------------------------------------------------------------
def shard_jpegs(root: str, limit: int = 2048) -> list[bytes]:
    """Up to ``limit`` JPEG frames from the WebDataset shards under ``root``."""
    import tarfile

    frames: list[bytes] = []
    for tar in sorted(Path(root).glob("shards/**/*.tar")):
        with tarfile.open(tar) as tf:
            for member in tf:
                if member.isfile() and member.name.endswith((".jpg", ".jpeg")):
                    frames.append(tf.extractfile(member).read())
                    if len(frames) >= limit:
                        return frames
    return frames


def _cpu_decode(chunk: list[bytes]) -> int:
    from torchvision.io import decode_jpeg

    torch.set_num_threads(1)
    for data in chunk:
        decode_jpeg(torch.frombuffer(bytearray(data), dtype=torch.uint8))
    return len(chunk)


def decode_rows(cfg: GpuBenchConfig, device: torch.device) -> list[Row]:
    from torchvision.io import decode_jpeg

    frames = shard_jpegs(cfg.data) if cfg.data else []
    if not frames:
        return [("JPEG decode", f"skipped: no shard frames under {cfg.data}", "-", "-")]
    procs = max(1, min(16, os.cpu_count() or 1))
    chunks = [frames[i::procs] for i in range(procs)]
    with multiprocessing.get_context("spawn").Pool(procs) as pool:
        pool.map(_cpu_decode, [c[:2] for c in chunks])  # start-up and imports out of the timing
        started = time.perf_counter()
        pool.map(_cpu_decode, chunks)
        cpu_rate = len(frames) / (time.perf_counter() - started)
    tensors = [torch.frombuffer(bytearray(f), dtype=torch.uint8) for f in frames]
    decode_jpeg(tensors[:8], device=device.type)
    _sync(device)
    started = time.perf_counter()
    for i in range(0, len(tensors), 256):
        decode_jpeg(tensors[i:i + 256], device=device.type)
    _sync(device)
    dev_rate = len(frames) / (time.perf_counter() - started)
    return [(f"JPEG decode on {device.type}, batches of 256", f"{dev_rate:,.0f} frames/s",
             f"{procs} CPU processes: {cpu_rate:,.0f} frames/s", f"{dev_rate / cpu_rate:.2f}x")]


# ---- 5. eval ranking ---------------------------------------------------------------------------
def eval_rows(cfg: GpuBenchConfig, device: torch.device, cpu_reference: str) -> list[Row]:
    from tvrkit.retrieval.metrics import summarize
    from tvrkit.retrieval.ranking import stream_rank

    gen = torch.Generator(device=device).manual_seed(0)
    _reset_peak(device)
    gallery = torch.nn.functional.normalize(
        torch.randn(cfg.eval_videos, 512, device=device, generator=gen), dim=1).half()
    targets = torch.randperm(cfg.eval_videos, device=device, generator=gen)[: cfg.eval_queries]
    noise = torch.randn(cfg.eval_queries, 512, device=device, generator=gen) * (4.0 / 512**0.5)
    queries = torch.nn.functional.normalize(gallery[targets].float() + noise, dim=1)
    _sync(device)
    result = stream_rank(queries, gallery, k=10, targets=targets.cpu().numpy(), device=device)
    r1 = summarize(result.counts)["R@1"]
    figure = f"{result.seconds:.1f} s, peak {_mib(_peak_mib(device))}, R@1 {r1:.1f}"
    return [(f"eval: rank {cfg.eval_videos:,} videos x {cfg.eval_queries:,} queries (D=512, fp16) on {device.type}",
             figure, cpu_reference, "-")]


def _cpu_eval_reference(path: str = "bench/results.md") -> str:
    """The CPU figure of the same ranking in the last ``make bench`` table, quoted."""
    p = Path(path)
    if p.is_file():
        for line in p.read_text(encoding="utf-8").splitlines():
            if "1,000,000" in line and "10,000" in line and "|" in line:
                return "CPU (bench/results.md): " + line.strip("| ").split("|")[1].strip()
    return "CPU: see bench/results.md"


# ---- the run -----------------------------------------------------------------------------------
def run_gpu_bench(cfg: GpuBenchConfig) -> list[Row]:
    """Every section in order within ``cfg.budget_s``; the table is written to ``cfg.out``."""
    from tvrkit.fsutil import write_text_atomic

    device = _device(cfg)
    deadline = time.monotonic() + cfg.budget_s
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (smoke run)"
    tflops = matmul_tflops(device, 8192 if device.type == "cuda" else 256)
    rows: list[Row] = [("bf16 matmul, 8192^3" if device.type == "cuda" else "bf16 matmul, 256^3",
                        f"{tflops:.1f} TFLOP/s", "-", "-")]
    rows += step_rows(cfg, device, tflops, deadline)
    rows += train_rows(cfg, deadline)
    rows += decode_rows(cfg, device)
    rows += eval_rows(cfg, device, _cpu_eval_reference())
    header = (f"# tvrkit on a GPU\n\n{name}; torch {torch.__version__}; measured {time.strftime('%Y-%m-%d')} "
              f"by `python -m benchmarks.gpu` in one run ({time.monotonic() - deadline + cfg.budget_s:.0f} s).\n\n"
              "| what | figure | reference (same run) | ratio |\n|---|---|---|---|\n")
    write_text_atomic(cfg.out, header + "".join(f"| {' | '.join(r)} |\n" for r in rows))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=GpuBenchConfig.out)
    parser.add_argument("--data", default=GpuBenchConfig.data, help="dataset root with wds shards (offline_bundle)")
    parser.add_argument("--budget", type=float, default=GpuBenchConfig.budget_s, help="seconds for all sections")
    parser.add_argument("--quick", action="store_true", help="toy sizes (a smoke run)")
    parser.add_argument("--allow-cpu", action="store_true", help="run on the CPU when there is no GPU")
    args = parser.parse_args(argv)
    kw = dict(out=args.out, data=args.data, budget_s=args.budget, allow_cpu=args.allow_cpu)
    cfg = GpuBenchConfig.quick(**kw) if args.quick else GpuBenchConfig(**kw)
    for row in run_gpu_bench(cfg):
        print(" | ".join(row), flush=True)


if __name__ == "__main__":
    main()
