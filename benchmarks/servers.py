"""Real servers on 127.0.0.1 for the streaming benchmark and tests: Python's ``http.server`` over a
directory and moto's standalone S3 server, each a subprocess a test can kill and restart."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A server subprocess on ``127.0.0.1:port``, started by ``start()`` and ready when it returns."""

    def __init__(self, argv: list[str], port: int) -> None:
        self.argv, self.port = argv, port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/", timeout=1)  # noqa: S310 (a local test server)
                return self
            except OSError as exc:
                if getattr(exc, "code", None):  # an HTTP error status: it is up
                    return self
                time.sleep(0.1)
        raise RuntimeError(f"{self.argv} did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def http_server(directory: Path, port: int | None = None) -> Server:
    """``python -m http.server`` serving ``directory`` (not started)."""
    port = port or free_port()
    return Server([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                   "--directory", str(directory)], port)


def s3_server(port: int | None = None) -> Server:
    """moto's standalone S3 server (not started)."""
    port = port or free_port()
    return Server([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], port)
