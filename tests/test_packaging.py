"""tvrkit as a user installs it: the built wheel holds every module and data file of the package,
and installed into a fresh virtual environment it runs prepare -> shard -> train -> eval from an
empty folder with no environment variable, naming a shipped config (the editable install the
other tests use would hide a package or data file left out of the wheel)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "tvrkit"
BUILD_FILES = ("setup.cfg", "pyproject.toml", "README.md")


def _source_files(root: Path) -> list[str]:
    """Every file of the package under ``root`` (compiled caches aside), relative, as a wheel names it."""
    return sorted(str(p.relative_to(root)) for p in (root / "tvrkit").rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")


def test_every_folder_of_modules_is_a_package():
    # setuptools' find_packages leaves a folder without __init__.py (and all below it) out of the wheel
    folders = {p.parent for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}
    missing = sorted(str(f.relative_to(REPO)) for f in folders if not (f / "__init__.py").is_file())
    assert not missing, f"folders of modules without __init__.py: {missing}"


def _build_wheel(tmp: Path) -> Path:
    """The wheel of a copy of the checkout (building in place would write build/ into the tree)."""
    src = tmp / "src"
    shutil.copytree(PACKAGE, src / "tvrkit", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in BUILD_FILES:
        shutil.copy2(REPO / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "-q", "-w", str(tmp / "dist"), str(src)], check=True, capture_output=True, cwd=tmp)
    (wheel,) = (tmp / "dist").glob("tvrkit-*.whl")
    return wheel


def _fresh_venv(tmp: Path, wheel: Path) -> Path:
    """A venv holding only the wheel; its dependencies are this interpreter's, seen through a ``.pth``
    file (a path line: the editable install's own ``.pth`` hook there is not run, so it stays hidden)."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    deps = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    Path(site, "tvrkit-test-deps.pth").write_text("".join(f"{d}\n" for d in deps))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                    "-q", str(wheel)], check=True, capture_output=True)
    return venv


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    wheel = _build_wheel(tmp_path)
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    left_out = [f for f in _source_files(tmp_path / "src") if f not in in_wheel]
    assert not left_out, f"files of the package missing from the wheel: {left_out}"

    venv = _fresh_venv(tmp_path, wheel)
    work = tmp_path / "empty"
    work.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TVRKIT") and k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}

    def run(*args: str) -> str:
        done = subprocess.run([str(venv / "bin" / args[0]), *args[1:]], cwd=work, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr

    where = run("python", "-c", "import tvrkit; print(tvrkit.__file__)")
    assert where.strip().startswith(str(venv)), where  # the wheel's copy, not the checkout's
    run("tvrkit", "config", "list")
    run("tvrkit", "prepare", "synthetic", "--root", "data", "--videos", "16", "--seed", "6", "--size", "64")
    run("tvrkit", "shard", "--root", "data", "--format", "wds")
    run("tvrkit", "train", "--config", "demo", "--set", "data.root=data", "--set", "train.steps=5",
        "--set", "train.progress=false", "--out", "run")
    assert (work / "run" / "checkpoints" / "best.pt").is_file()
    output = run("tvrkit", "eval", "--checkpoint", "run/checkpoints/best.pt", "--out", "eval")
    assert (work / "eval" / "metrics.json").is_file() and (work / "eval" / "report.html").is_file()
    # quiet by default: no third-party INFO line, nothing untrue (the checkpoint's weights do load)
    assert "initialized randomly" not in output and "INFO root" not in output, output
