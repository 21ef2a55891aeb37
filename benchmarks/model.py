"""Model benchmark: training forward+backward samples/s of every published method, each at its defaults.

Each row times ``loss(encode_text(tokens), encode_video(frames, mask))`` and its backward pass on
random weights and inputs of the real shapes (``frames`` frames of ``image_size`` px per video,
``max_words`` tokens per caption), after warm-up iterations; the median iteration counts. No
optimizer step and no data loading: this is the model's own cost, the figure a GPU run is compared
against. CPU seconds (all threads of the process) are reported beside wall seconds: on a shared
machine they move less with other load. On CUDA the clock is read after synchronising and bf16
autocast is available.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from typing import Any

import torch

from tvrkit.models import build_model, load_model_config, method_names

#: the row the others are compared with: CLIP4Clip, the cheapest score (one cosine per pair)
BASELINE = "clip4clip"
#: options that must differ on tvrkit-tiny (2 image blocks; UCoFiA shifts blocks 10-11 of ViT-B)
TINY_OPTIONS: dict[str, dict[str, Any]] = {"ucofia": {"shift_layers": [0, 1]}}
ARCHS = {"tiny": {"arch": "tvrkit-tiny"}}  # anything else is an open_clip architecture name


@dataclasses.dataclass(frozen=True)
class ModelBenchConfig:
    archs: tuple[str, ...] = ("tiny", "ViT-B-32")
    methods: tuple[str, ...] = ()  # () = every registered method
    batch_size: int = 4
    frames: int = 12
    max_words: int = 32
    warmup: int = 1
    iters: int = 2
    device: str = "cpu"
    bf16: bool = False  # autocast on CUDA only
    threads: int = 0  # 0 = torch's default


def _inputs(batch: int, frames: int, size: int, max_words: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    from tvrkit.data.tokenize import tokenize

    captions = [f"a person does thing number {i} in a room with {i % 3 + 1} chairs" for i in range(batch)]
    tokens = tokenize(captions, max_words).to(device)
    video = torch.randn(batch, frames, 3, size, size, device=device)
    mask = torch.ones(batch, frames, dtype=torch.bool, device=device)
    return tokens, video, mask


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_row(cfg: ModelBenchConfig, arch: str, method: str) -> dict[str, Any]:
    device = torch.device(cfg.device)
    backbone = ARCHS.get(arch, {"name": arch, "arch": None})
    options = TINY_OPTIONS.get(method, {}) if arch in ARCHS else {}
    model_cfg = load_model_config(base={"method": method, "backbone": backbone, method: options})
    torch.manual_seed(0)
    model = build_model(model_cfg).to(device).train()
    tokens, video, mask = _inputs(cfg.batch_size, cfg.frames, model.image_size, cfg.max_words, device)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=cfg.bf16 and device.type == "cuda")
    forward_s, total_s, cpu_s = [], [], []
    for step in range(cfg.warmup + cfg.iters):
        model.zero_grad(set_to_none=True)
        _sync(device)
        start, cpu_start = time.perf_counter(), time.process_time()
        with autocast:
            loss, _ = model(tokens, video, mask)
        _sync(device)
        middle = time.perf_counter()
        loss.backward()
        _sync(device)
        if step >= cfg.warmup:
            forward_s.append(middle - start)
            total_s.append(time.perf_counter() - start)
            cpu_s.append(time.process_time() - cpu_start)
    seconds = statistics.median(total_s)
    return {
        "arch": arch, "method": method, "levels": list(model.levels), "forward_s": statistics.median(forward_s),
        "step_s": seconds, "cpu_s": statistics.median(cpu_s), "samples_per_s": cfg.batch_size / seconds,
        "frames_per_s": cfg.batch_size * cfg.frames / seconds,
        "parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
    }


def run_model_bench(cfg: ModelBenchConfig) -> dict[str, Any]:
    """Time every (architecture, method) pair of ``cfg``; rows in that order."""
    methods = cfg.methods or method_names()
    unknown = [m for m in methods if m not in method_names()]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; known: {', '.join(method_names())}")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    rows = [_time_row(cfg, arch, method) for arch in cfg.archs for method in methods]
    device = torch.cuda.get_device_name(cfg.device) if cfg.device.startswith("cuda") else "cpu"
    return {"config": dataclasses.asdict(cfg), "device": device, "threads": torch.get_num_threads(), "rows": rows}


def format_report(result: dict[str, Any]) -> str:
    cfg = result["config"]
    lines = [
        f"model benchmark: forward+backward on {result['device']} ({result['threads']} threads), batch "
        f"{cfg['batch_size']} x {cfg['frames']} frames, {cfg['max_words']} tokens, each method at its defaults, "
        f"median of {cfg['iters']} after {cfg['warmup']} warm-up",
        f"{'arch':<10}{'method':<24}{'params':>11}{'fwd s':>9}{'fwd+bwd s':>11}{'cpu s':>9}{'samples/s':>11}"
        f"{'frames/s':>10}",
    ]
    for row in result["rows"]:
        lines.append(
            f"{row['arch']:<10}{row['method']:<24}{row['parameters'] / 1e6:>10.1f}M{row['forward_s']:>9.3f}"
            f"{row['step_s']:>11.3f}{row['cpu_s']:>9.3f}{row['samples_per_s']:>11.2f}{row['frames_per_s']:>10.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.model``: run and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = ModelBenchConfig()
    parser.add_argument("--archs", nargs="+", default=list(defaults.archs),
                        help="'tiny' (tvrkit-tiny) or open_clip names such as ViT-B-32")
    parser.add_argument("--methods", nargs="+", default=list(defaults.methods), help="default: every method")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (CUDA only)")
    for name in ("batch_size", "frames", "max_words", "warmup", "iters", "threads"):
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=int, default=getattr(defaults, name))
    parser.add_argument("--device", default=defaults.device)
    args = vars(parser.parse_args(argv))
    cfg = ModelBenchConfig(**{**args, "archs": tuple(args["archs"]), "methods": tuple(args["methods"])})
    print(format_report(run_model_bench(cfg)))


if __name__ == "__main__":
    main()
