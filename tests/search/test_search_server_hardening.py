"""``tvrkit serve`` against hostile clients, on a real uvicorn server on 127.0.0.1: malformed and
huge ``k`` are 400 with the reason, HEAD answers as GET without a body, a foreign ``Host`` is
refused unless allowed, and a busy port is an error before any URL is printed."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import httpx
import pytest
from search_testdata import small_library

from tvrkit.errors import StageError
from tvrkit.search import open_index
from tvrkit.search.server import listen, serve_index


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    _, _, out = small_library(tmp_path_factory.mktemp("harden"))
    return open_index(out)


@contextlib.contextmanager
def _serving(index, allow_hosts=()):
    """``serve_index`` itself in a thread, on a free port; yields its URL."""
    import uvicorn

    sock = listen("127.0.0.1", 0)
    servers: list[uvicorn.Server] = []
    real_run = uvicorn.Server.run

    def run(self, sockets=None):  # keep a handle to stop the server at the end
        servers.append(self)
        return real_run(self, sockets=sockets)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(uvicorn.Server, "run", run)
        thread = threading.Thread(target=serve_index, args=(index, "127.0.0.1", 0, allow_hosts, sock), daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not (servers and servers[0].started):
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        servers[0].should_exit = True
        thread.join(10)


@pytest.mark.slow  # builds a small library with ffmpeg and a model
def test_bad_k_host_and_head_on_a_real_server(index):
    vid = index.rows[0]["video_id"]
    with _serving(index, allow_hosts=("videos.example",)) as url, httpx.Client(base_url=url, timeout=60) as client:
        for k, reason in [("%C2%B2", "is not an integer"), ("--1", "is not an integer"), ("1.5", "is not an integer"),
                          ("0", "out of range; 1 <= k <= 100"), ("1000000000", "out of range; 1 <= k <= 100"),
                          ("9" * 5000, "out of range; 1 <= k <= 100")]:
            response = client.get(f"/api/search?q=red&k={k}")
            assert response.status_code == 400 and reason in response.json()["error"], (k, response.text)
        assert client.get("/api/search?q=red&k=100").status_code == 200
        for path in ("/", "/api/info", "/api/search?q=red", f"/strips/{vid}.jpg", f"/clips/{vid}.mp4"):
            got, head = client.get(path), client.head(path)
            assert head.status_code == got.status_code == 200 and head.content == b"", path
            assert head.headers["content-type"] == got.headers["content-type"]
        assert client.head("/clips/nothing.mp4").status_code == 404
        assert client.get("/api/info", headers={"Host": "evil.example"}).status_code == 400
        assert client.get("/api/info", headers={"Host": f"evil.example:{url.rsplit(':', 1)[1]}"}).status_code == 400
        assert client.get("/api/info", headers={"Host": "localhost"}).status_code == 200
        assert client.get("/api/info", headers={"Host": "videos.example"}).status_code == 200


def test_a_busy_port_is_an_error_before_the_url(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StageError, match=f"cannot listen on 127.0.0.1:{port}: .*--port"):
            listen("127.0.0.1", port)
    assert capsys.readouterr().out == ""


def test_cli_serve_on_a_busy_port_exits_1_before_loading_the_index(tmp_path, capsys):
    from tvrkit.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as exit_:
            main(["serve", str(tmp_path / "no-index"), "--port", str(port), "--allow-host", "videos.example"])
    captured = capsys.readouterr()
    assert exit_.value.code == 1 and f"cannot listen on 127.0.0.1:{port}" in captured.err
    assert "http://" not in captured.out
