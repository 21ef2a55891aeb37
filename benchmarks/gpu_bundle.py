"""Everything ``tvrkit bench gpu`` needs on a lent GPU machine, made here on the CPU
(``make gpu-bundle``): the Python packages that machine lacks, as wheels for its Python 3.12,
and small real shards to train and decode on.

A lent machine has its own Python 3.12 with torch 2.11 and most of the scientific stack, but no
open_clip, webdataset, lmdb or jsonschema, and it reaches no registry. :data:`WHEELS` lists what
tvrkit's training and eval paths import beyond that image (with the packages those need that it
lacks too); ffmpeg is not needed there, since the shards arrive ready. Both go into folders git
ignores (``.whl/``, ``.gpu/``) and travel with the working tree when a run names them in
``carry``; everything that travels must stay under the device tool's 64 MiB, which
:func:`build_bundle` checks. :data:`RUN` is the one command to run there.
"""

from __future__ import annotations

import argparse
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
LIMIT_MIB = 64.0
# 24 copies of the real 10 s clip make ~33 MiB of shards; 16 captions each give 384 training
# samples, three batches of 128 per epoch
COPIES, CAPTIONS = 24, 16
RUN = ("python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "
       ".whl/*.whl && export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 && "
       "python3 -m benchmarks.gpu --out $OUT/results-gpu.md --data .gpu/data")


def download_wheels(dest: Path) -> list[Path]:
    """``pip download`` each of :data:`WHEELS` for CPython 3.12 on x86-64 Linux into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                    "--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(dest), *WHEELS],
                   check=True)
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


def _mib(paths: list[Path]) -> float:
    return sum(f.stat().st_size for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()) / 2**20


def tree_mib(repo: Path) -> float:
    """MiB of what a device run sends without ``carry``: tracked and untracked-not-ignored files."""
    listed = subprocess.run(["git", "-C", str(repo), "ls-files", "-co", "--exclude-standard", "-z"], check=True,
                            capture_output=True).stdout.decode().split("\0")
    return _mib([repo / name for name in listed if name and (repo / name).is_file()])


def build_bundle(repo: Path, wheels: bool = True, copies: int = COPIES) -> dict[str, Any]:
    """Wheels into ``repo/.whl``, shards into ``repo/.gpu/data``; the sizes, and the run command."""
    report: dict[str, Any] = {}
    if wheels:
        report["wheels"] = [p.name for p in download_wheels(repo / ".whl")]
    data = repo / ".gpu" / "data"
    if not (data / "catalog").is_dir():
        report.update(build_shards(data, copies))
    sizes = {"tree": tree_mib(repo), ".whl": _mib([repo / ".whl"]), ".gpu": _mib([repo / ".gpu"])}
    report["mib"] = {k: round(v, 2) for k, v in sizes.items()}
    total = sum(sizes.values())
    if total > LIMIT_MIB:
        raise SystemExit(f"the bundle is {total:.1f} MiB, over the device tool's {LIMIT_MIB:.0f} MiB: {sizes}")
    report["run"] = {"command": RUN, "carry": [".whl", ".gpu"], "timeout_s": 540}
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_bundle", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", default=".", help="the checkout that travels")
    parser.add_argument("--copies", type=int, default=COPIES, help="videos in the small shards")
    parser.add_argument("--no-wheels", action="store_true", help="shards only")
    args = parser.parse_args(argv)
    import json

    print(json.dumps(build_bundle(Path(args.repo).resolve(), not args.no_wheels, args.copies), indent=2))


if __name__ == "__main__":
    main()
