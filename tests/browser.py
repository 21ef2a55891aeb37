"""Debian's headless Chromium for the tests that render a page (installed when missing and the tests
run as root with apt-get; otherwise those tests skip)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import time

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


class DevTools:
    """One headless Chromium page driven over the DevTools protocol on ``--remote-debugging-pipe``
    (NUL-terminated JSON: Chromium reads fd 3, writes fd 4). Lets a test wait for a condition in the
    page with a real-time deadline; ``--virtual-time-budget`` with ``--dump-dom`` cannot, because media
    decoding runs outside virtual time and a loaded machine loses that race."""

    def __init__(self, browser: str, flags: list[str], profile: str) -> None:
        self._to_chromium, self._we_write = os.pipe()
        self._we_read, self._from_chromium = os.pipe()
        shell = f'exec "$@" 3<&{self._to_chromium} 4>&{self._from_chromium}'
        self._log = open(f"{profile}.log", "w+b")  # noqa: SIM115 (closed in close())
        self._proc = subprocess.Popen(
            ["bash", "-c", shell, "chromium", browser, *flags, "--remote-debugging-pipe", f"--user-data-dir={profile}",
             "about:blank"], pass_fds=(self._to_chromium, self._from_chromium),
            stdout=subprocess.DEVNULL, stderr=self._log)
        os.close(self._to_chromium)
        os.close(self._from_chromium)
        self._buffer = b""
        self._next_id = 0
        self._session: str | None = None

    def send(self, method: str, timeout: float = 60.0, **params: object) -> dict:
        """Call ``method`` (in the attached page once there is one) and return its result."""
        self._next_id += 1
        message: dict = {"id": self._next_id, "method": method, "params": params}
        if self._session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self._session
        os.write(self._we_write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._we_read], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._we_read, 1 << 20)
            if not chunk:
                self._log.seek(0)
                raise RuntimeError(f"chromium exited: {self._log.read().decode(errors='replace')[-800:]}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def open(self, url: str, width: int = 1200, height: int = 800) -> None:
        """Open ``url`` in a new ``width`` x ``height`` page and attach to it."""
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self._session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        self.send("Page.navigate", url=url)

    def evaluate(self, expression: str) -> object:
        """The JSON value of ``expression`` in the page."""
        return self.send("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def wait_for(self, expression: str, timeout: float) -> object:
        """Poll ``expression`` until it is truthy; its last value when ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.evaluate(expression)
            except RuntimeError:  # the page is between two documents (navigation)
                value = None
            if value or time.monotonic() >= deadline:
                return value
            time.sleep(0.1)

    def screenshot(self, path: str) -> None:
        """Write the page as it is now to ``path`` (PNG)."""
        png = base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"])
        with open(path, "wb") as f:
            f.write(png)

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError, TimeoutError):
            self.send("Browser.close", timeout=10)
        try:
            self._proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        os.close(self._we_write)
        os.close(self._we_read)
        self._log.close()

    def __enter__(self) -> DevTools:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
