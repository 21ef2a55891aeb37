"""Debian's headless Chromium for the tests that render a page (installed when missing and the tests
run as root with apt-get; otherwise those tests skip)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def chromium() -> str:
    """Path of Debian's chromium; install it when missing and we may (root with apt-get)."""
    for name in ("chromium", "chromium-browser"):
        if path := shutil.which(name):
            return path
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("chromium is not installed and cannot be installed here (needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]):
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900, check=False)
        if proc.returncode != 0:
            pytest.skip(f"installing chromium failed at {' '.join(argv)}: {proc.stderr.strip()[-300:]}")
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("apt-get installed chromium but no `chromium` binary is on PATH")
    return path
