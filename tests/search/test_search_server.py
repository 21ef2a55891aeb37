"""``tvrkit serve``: the JSON API, range requests, hardening against bad requests (traversal,
huge k, empty or 10 kB queries, unknown ids, non-UTF-8, 200 concurrent requests), and the
page itself in headless Chromium: the query runs, results appear, the clip starts at the moment."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from search_testdata import small_library

from tvrkit.search import open_index
from tvrkit.search.server import create_app


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from starlette.testclient import TestClient

    base = tmp_path_factory.mktemp("serve")
    _, _, out = small_library(base)
    index = open_index(out)
    app = create_app(index)
    with TestClient(app, base_url="http://localhost", raise_server_exceptions=False) as client:
        yield base, index, app, client


def _clean(response, base) -> None:
    """No server error, and nothing in the body names a path of this machine or a traceback."""
    assert response.status_code < 500, response.text
    assert str(base) not in response.text and "Traceback" not in response.text


def test_search_api_returns_hits_with_urls(served):
    base, index, _, client = served
    response = client.get("/api/search", params={"q": "a clip with colours", "k": 3})
    _clean(response, base)
    doc = response.json()
    assert response.status_code == 200 and len(doc["results"]) == 3 and doc["seconds"] > 0
    hit = doc["results"][0]
    assert hit["clip"] == f"/clips/{hit['video_id']}.mp4" and hit["name"].endswith(".mp4")
    strip = client.get(hit["strip"])
    assert strip.status_code == 200 and strip.content[:2] == b"\xff\xd8"
    info = client.get("/api/info").json()
    assert info["videos"] == len(index) == 6
    assert "tvrkit search" in client.get("/").text


def test_clips_support_range_requests(served):
    base, index, _, client = served
    vid = index.rows[2]["video_id"]
    data = index.clip_path(vid).read_bytes()
    whole = client.get(f"/clips/{vid}.mp4")
    assert whole.status_code == 200 and whole.content == data and whole.headers["accept-ranges"] == "bytes"
    part = client.get(f"/clips/{vid}.mp4", headers={"Range": "bytes=100-299"})
    assert part.status_code == 206 and part.content == data[100:300]
    assert part.headers["content-range"] == f"bytes 100-299/{len(data)}"
    assert client.get(f"/clips/{vid}.mp4", headers={"Range": "bytes=999999-"}).status_code == 416


BAD_PATHS = ["/clips/../../etc/passwd", "/clips/..%2F..%2F..%2Fetc%2Fpasswd.mp4", "/clips/%2e%2e%2fsetup.cfg.mp4",
             "/strips/0123456789abcdef.jpg", "/clips/" + "a" * 5000 + ".mp4", "/clips/%00.mp4",
             "/static/../../setup.cfg", "/compressed/", "/api/search/../../etc/passwd"]
BAD_QUERIES = ["", "q=", "q=%20%20", "q=" + "x" * 10240, "q=dog&k=0", "q=dog&k=-3", "q=dog&k=1000000000000",
               "q=dog&k=101", "q=dog&k=abc", "q=dog&k=1.5", "q=dog&rerank_topk=0", "q=%FF%FE", "q=%C3",
               "k=3", "q=dog&k=%FF"]


@pytest.mark.parametrize("path", BAD_PATHS)
def test_paths_outside_the_index_are_not_found(served, path):
    base, _, _, client = served
    response = client.get(path)
    _clean(response, base)
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize("query", BAD_QUERIES)
def test_bad_queries_get_a_4xx_with_a_message(served, query):
    base, _, _, client = served
    response = client.get("/api/search?" + query)
    _clean(response, base)
    assert response.status_code == 400 and response.json()["error"]


def test_a_clip_of_an_id_in_the_index_is_served_only_under_its_own_route(served):
    base, index, _, client = served
    vid = index.rows[0]["video_id"]
    assert client.get(f"/clips/{vid}.jpg").status_code == 404
    assert client.get(f"/strips/{vid}.mp4").status_code == 404
    assert client.get(f"/clips/{vid.upper()}.mp4").status_code == 404


@contextlib.contextmanager
def _server(app):
    """uvicorn serving ``app`` on a free localhost port, in a thread."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_200_concurrent_requests_from_8_threads(served):
    import httpx

    base, index, app, _ = served
    vid = index.rows[1]["video_id"]
    expected = {f"/api/search?q=clip+{i}&k={1 + i % 6}": 200 for i in range(8)}
    expected |= {f"/clips/{vid}.mp4": 206, f"/strips/{vid}.jpg": 200, "/api/search?q=": 400,
                 "/clips/..%2Fsetup.cfg.mp4": 404, "/api/info": 200}
    paths = list(expected)
    with _server(app) as url, httpx.Client(base_url=url, timeout=120) as client:
        def get(i: int) -> tuple[str, int, str]:
            path = paths[i % len(paths)]
            response = client.get(path, headers={"Range": "bytes=0-99"} if path.startswith("/clips/") else {})
            is_json = response.headers.get("content-type", "").startswith("application/json")
            return path, response.status_code, response.text if is_json else ""

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(get, range(200)))
    assert len(results) == 200
    assert [code for _, code, _ in results] == [expected[path] for path, _, _ in results]
    assert all(str(base) not in text and "Traceback" not in text for _, _, text in results)


@pytest.mark.slow
def test_the_page_in_headless_chromium_answers_a_query_and_plays_from_the_moment(served, tmp_path):
    from browser import DevTools, chromium
    from PIL import Image

    _, _, app, client = served
    browser = chromium()
    query = "clip 4 caption 1"
    hits = client.get("/api/search", params={"q": query, "k": 12}).json()["results"]
    later = [h["rank"] for h in hits if h["moment"]["start"] > 0.2]
    assert later, "every moment starts at 0: the seek would not be tested"
    rank = later[0]
    start = hits[rank - 1]["moment"]["start"]
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--mute-audio", "--hide-scrollbars",
             "--autoplay-policy=no-user-gesture-required", "--window-size=1200,800"]
    shot = tmp_path / "page.png"
    with _server(app) as url, DevTools(browser, flags, str(tmp_path / "profile")) as page:
        page.open(f"{url}/?{urllib.parse.urlencode({'q': query, 'play': rank})}")
        played = page.wait_for("document.getElementById('now').dataset.playedFrom", timeout=90)
        page.wait_for("[...document.images].every((img) => img.complete)", timeout=30)
        dom = page.evaluate("document.documentElement.outerHTML")
        page.screenshot(str(shot))
    assert dom.count('class="hit') == len(hits), dom[-2000:]  # the typed query's results are on the page
    assert 'class="hit active"' in dom and f"{len(hits)} results" in dom
    assert played is not None, f"the video never started playing: {dom[-1500:]}"
    assert float(played) == pytest.approx(start, abs=0.35), f"video started at {played}, moment starts at {start}"
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(np.int16)
    assert pixels.shape[:2] == (800, 1200) and pixels.std() > 10, "the screenshot is blank"
    strip_area = pixels[100:500, 20:700]  # the result grid: frame strips of testsrc2 colours
    assert len(np.unique(strip_area.reshape(-1, 3) // 32, axis=0)) > 20, "no frame strips visible"
