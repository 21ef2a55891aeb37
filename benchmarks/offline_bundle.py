"""An offline bundle for a GPU compute node without internet (``make offline-bundle``): the Python
packages tvrkit needs beyond what a GPU image already has, as wheels for the node's Python, and
small WebDataset shards to train and decode on, so that ``python -m benchmarks.gpu`` (or a short
``tvrkit train``) runs there with no registry and no ffmpeg.

GPU images usually ship Python with torch, torchvision, numpy, pillow, PyYAML and the rest of the
scientific stack; :data:`WHEELS` is what tvrkit's training and eval paths import beyond that (and
what those packages need in turn). Build the bundle on any machine with internet, copy the
checkout with ``OUT/`` to the node and run :func:`node_command`'s command there.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks import REAL_CLIP

WHEELS = (
    "open_clip_torch==3.3.0", "ftfy==6.3.1", "wcwidth==0.9.4",
    "webdataset==1.0.2", "braceexpand==0.1.7",
    "lmdb==3.0.0",
    "jsonschema==4.26.0", "jsonschema-specifications==2025.9.1", "referencing==0.37.0", "rpds-py==2026.9.1",
)
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")
# 24 copies of the real 10 s clip make ~33 MiB of shards; 16 captions each give 384 training
# samples, three batches of 128 per epoch
COPIES, CAPTIONS = 24, 16
DEFAULT_OUT = "bench/out/offline"


def download_wheels(dest: Path, python_version: str) -> list[Path]:
    """``pip download`` each of :data:`WHEELS` for CPython ``python_version`` on x86-64 Linux into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                    "--python-version", python_version, "--implementation", "cp", *platforms, "-d", str(dest),
                    *WHEELS], check=True)
    return sorted(dest.glob("*.whl"))


def _custom_annotations(root: Path, clip: Path, copies: int) -> Path:
    """``copies`` hard links (or copies) of the real clip and a custom-dataset CSV giving each
    :data:`CAPTIONS` captions."""
    videos = root / "raw-videos"
    videos.mkdir(parents=True, exist_ok=True)
    lines = ["video_id,caption,split"]
    for i in range(copies):
        target = videos / f"clip{i:04d}.mp4"
        if not target.exists():
            try:
                target.hardlink_to(clip)
            except OSError:
                shutil.copyfile(clip, target)
        lines += [f"clip{i:04d},caption {k} of real clip number {i},train" for k in range(CAPTIONS)]
    csv = root / "captions.csv"
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return videos


def build_shards(root: Path, copies: int = COPIES) -> dict[str, Any]:
    """A dataset root holding only the catalog and WebDataset shards: ``copies`` copies of the real
    MSR-VTT clip when ``../shared`` is present, else as many synthetic videos."""
    from tvrkit.config import load_config
    from tvrkit.prepare import PrepareConfig, run_prepare
    from tvrkit.shards.config import ShardConfig
    from tvrkit.shards.stage import run_shard

    if REAL_CLIP.is_file():
        videos = _custom_annotations(root, REAL_CLIP, copies)
        base = {"dataset": "custom", "root": str(root), "captions": str(root / "captions.csv"),
                "videos_dir": str(videos)}
        source = f"{copies} copies of {REAL_CLIP.name}"
    else:
        base = {"dataset": "synthetic", "root": str(root), "videos": copies, "seed": 0}
        source = f"{copies} synthetic videos (../shared absent)"
    run_prepare(load_config("prepare", PrepareConfig, base=base))
    run_shard(load_config("shard", ShardConfig, base={"root": str(root), "format": "wds"}))
    for bulky in ("raw-videos", "raw", "compressed", "videos", "fragments"):  # the shards hold the frames
        shutil.rmtree(root / bulky, ignore_errors=True)
    return {"source": source}


def _mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def node_command(out: str) -> str:
    """What to run on the node from the checkout: install the wheels into a folder (no index, no
    dependencies fetched: the image has the rest), then the GPU benchmark on the sample shards."""
    return (f"python3 -m pip install -q --no-index --no-deps --target {out}/site {out}/wheels/*.whl && "
            f"PYTHONPATH={out}/site:$PWD python3 -m benchmarks.gpu --data {out}/data --out bench/results-gpu.md")


def build_bundle(out: Path, python_version: str, wheels: bool = True, copies: int = COPIES) -> dict[str, Any]:
    """Wheels into ``out/wheels``, shards into ``out/data`` (kept when present); sizes and the node's command."""
    report: dict[str, Any] = {}
    if wheels:
        report["wheels"] = [p.name for p in download_wheels(out / "wheels", python_version)]
    if not (out / "data" / "catalog").is_dir():
        report.update(build_shards(out / "data", copies))
    report["mib"] = {part: round(_mib(out / part), 2) for part in ("wheels", "data") if (out / part).is_dir()}
    report["run_on_the_node"] = node_command(str(out))
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.offline_bundle", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder for wheels/ and data/ (inside the checkout)")
    parser.add_argument("--python-version", default=f"{sys.version_info.major}.{sys.version_info.minor}",
                        help="the node's Python, MAJOR.MINOR (default: this one)")
    parser.add_argument("--copies", type=int, default=COPIES, help="videos in the sample shards")
    parser.add_argument("--no-wheels", action="store_true", help="shards only")
    args = parser.parse_args(argv)
    print(json.dumps(build_bundle(Path(args.out), args.python_version, not args.no_wheels, args.copies), indent=2))


if __name__ == "__main__":
    main()
