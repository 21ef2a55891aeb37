"""The GPU benchmark refuses to run without CUDA unless asked, every section runs on the CPU at toy
sizes (the code a GPU node runs, minus the device), and the offline bundle installs without a registry."""

from __future__ import annotations

import pytest
import torch
from train_data import synthetic_root

from benchmarks.gpu import GpuBenchConfig, run_gpu_bench, shard_jpegs
from benchmarks.offline_bundle import WHEELS, node_command
from tvrkit.errors import ConfigError


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal without CUDA")
def test_refuses_without_cuda(tmp_path):
    with pytest.raises(ConfigError, match="needs a CUDA device.*--allow-cpu --quick"):
        run_gpu_bench(GpuBenchConfig(out=str(tmp_path / "r.md")))


@pytest.mark.slow
def test_every_section_runs_on_cpu_at_toy_sizes(tmp_path):
    root = synthetic_root(tmp_path / "data")
    assert len(shard_jpegs(str(root), limit=5)) == 5
    out = tmp_path / "results-gpu.md"
    cfg = GpuBenchConfig.quick(out=str(out), data=str(root), allow_cpu=True, configs="msrvtt-clip4clip-meanp-vit-b32",
                               batch_size=4, frames=2)
    rows = run_gpu_bench(cfg)
    text = out.read_text()
    assert text.startswith("# tvrkit on a GPU") and "CPU (smoke run)" in text
    labels = [r[0] for r in rows]
    assert labels[0].startswith("bf16 matmul")
    for precision in ("fp32", "bf16", "fp16-reference"):
        assert any(label.endswith(precision) for label in labels), precision
    steps = [r for r in rows if r[0].startswith("step ")]
    assert all("samples/s" in r[1] for r in steps if "compile" not in r[0]), steps
    assert [r[1] for r in steps if r[0].endswith("torch.compile")] == ["skipped: CUDA only"]
    assert any(r[0].startswith("tvrkit train, 0 loader workers") and "waiting for data" in r[1] for r in rows)
    assert any(r[0].startswith("JPEG decode") and "frames/s" in r[1] for r in rows)
    assert any(r[0].startswith("eval: rank 2,000 videos") and "R@1" in r[1] for r in rows)


def test_offline_bundle_lists_the_packages_a_gpu_image_lacks():
    names = {w.split("==")[0] for w in WHEELS}
    assert {"open_clip_torch", "webdataset", "lmdb", "jsonschema"} <= names
    assert all("==" in w for w in WHEELS)  # one pinned version each: two stop the install there
    run = node_command("bench/out/offline")
    assert "--no-index" in run and "bench/out/offline/wheels/*.whl" in run
    assert "benchmarks.gpu --data bench/out/offline/data" in run
