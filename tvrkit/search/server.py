"""``tvrkit serve``: one static page and a JSON API over an opened index (FastAPI + uvicorn).

Routes (GET and HEAD): ``/`` (the page), ``/api/search?q=...&k=...[&rerank_topk=...]``, ``/api/info``,
``/strips/{id}.jpg`` and ``/clips/{id}.mp4`` (HTTP range requests, so the player can seek).
Only requests whose ``Host`` names localhost, the bound address or an ``--allow-host`` are
answered (DNS rebinding).
A file is served only when its id is a row of the index: the id is looked up in the table
and the path built from the index folder, so nothing from a request reaches the file system.
Every bad request is a 4xx with a one-line JSON message; an unexpected error is logged and
answered 500 without a traceback or a path. Binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Sequence
from importlib import resources
from typing import Any
from urllib.parse import unquote_to_bytes

# module level: FastAPI resolves the endpoints' (string) annotations in this module's globals
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException

from tvrkit.errors import StageError
from tvrkit.search.query import MAX_K, QueryError, SearchIndex, check_query

log = logging.getLogger(__name__)
LOCAL_HOSTS = ("127.0.0.1", "localhost")
READ = ["GET", "HEAD"]  # every page and file answers HEAD as GET does, without the body


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def parse_query_string(raw: bytes) -> dict[str, str]:
    """Query parameters decoded as strict UTF-8 (the first value of each name); a byte
    sequence that is not UTF-8 is a :class:`BadRequest` instead of silently replaced text."""
    params: dict[str, str] = {}
    for part in raw.split(b"&"):
        if not part:
            continue
        name, _, value = part.partition(b"=")
        try:
            key = unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8")
            params.setdefault(key, unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8"))
        except UnicodeDecodeError:
            raise BadRequest("the query string is not valid UTF-8") from None
    return params


_INTEGER = re.compile(r"-?[0-9]+")  # ASCII digits only: str.isdigit() also accepts "²", which int() refuses


def _int_param(params: dict[str, str], name: str, default: int | None, maximum: int | None = None) -> int | None:
    """Parameter ``name`` as an integer (``default`` when absent); a :class:`BadRequest` saying
    why when it is not one, or when it lies outside ``1..maximum``."""
    value = params.get(name)
    if value is None or value == "":
        return default
    text = value.strip()
    if _INTEGER.fullmatch(text) is None:
        raise BadRequest(f"{name}: {value[:20]!r} is not an integer")
    number = int(text) if len(text) <= 18 else None  # longer: out of any range, and slow to convert
    if number is None or (maximum is not None and not 1 <= number <= maximum):
        bounds = f"1 <= {name} <= {maximum}" if maximum is not None else "too large"
        raise BadRequest(f"{name}: {text[:20]}{'...' if len(text) > 20 else ''} is out of range; {bounds}")
    return number


def allowed_hosts(host: str, extra: Sequence[str] = ()) -> list[str]:
    """``Host`` headers the server answers: localhost, the bound address and ``extra``
    (``--allow-host``). Anything else is refused, so a web page whose own name resolves to
    this machine (DNS rebinding) cannot read the library through the browser."""
    return list(dict.fromkeys([*LOCAL_HOSTS, host, *extra]))


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (port 0: any free one), or a :class:`StageError` saying
    why not, before anything is printed or loaded onto it."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StageError(f"cannot listen on {host}:{port}: {exc.strerror or exc} (another server on that port? "
                         "choose another with --port)") from None
    return sock


def create_app(index: SearchIndex, hosts: Sequence[str] = LOCAL_HOSTS) -> Any:
    """The ASGI app serving ``index`` to requests whose ``Host`` is one of ``hosts``."""
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    from tvrkit.search.serialize import result_dict

    app = FastAPI(title="tvrkit search", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(hosts))
    page = resources.files("tvrkit.search").joinpath("static/index.html").read_text(encoding="utf-8")

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("error answering %s", request.url.path)
        return JSONResponse({"error": "internal error (see the server log)"}, status_code=500)

    @app.api_route("/", methods=READ, response_class=HTMLResponse)
    def home() -> HTMLResponse:
        return HTMLResponse(page)

    @app.api_route("/api/info", methods=READ)
    def info() -> dict[str, Any]:
        ident = index.identity
        return {"videos": len(index), "model": {k: ident[k] for k in ("arch", "temporal", "levels")},
                "model_sha256": ident["model_sha256"][:12], "max_k": MAX_K}

    @app.api_route("/api/search", methods=READ)
    def search(request: Request) -> dict[str, Any]:
        params = parse_query_string(request.scope.get("query_string", b""))
        k = _int_param(params, "k", 10, MAX_K)
        rerank = _int_param(params, "rerank_topk", None)
        try:
            text, k = check_query(params.get("q", ""), k)
            if rerank is not None and rerank < 1:
                raise QueryError(f"rerank_topk: {rerank} must be at least 1")
            result = index.search(text, k, rerank) if rerank else index.search(text, k)
        except QueryError as exc:
            raise BadRequest(str(exc)) from None
        return result_dict(result, urls=True)

    def _file(video_id: str, kind: str) -> FileResponse:
        if video_id not in index.by_id:
            raise BadRequest(f"no video {video_id[:40]!r} in this index", 404)
        path = index.clip_path(video_id) if kind == "clip" else index.strip_path(video_id)
        if not path.is_file():
            raise BadRequest(f"video {video_id} has no {kind}", 404)
        return FileResponse(path, media_type="video/mp4" if kind == "clip" else "image/jpeg")

    @app.api_route("/clips/{video_id}.mp4", methods=READ)
    def clip(video_id: str) -> FileResponse:
        return _file(video_id, "clip")

    @app.api_route("/strips/{video_id}.jpg", methods=READ)
    def strip(video_id: str) -> FileResponse:
        return _file(video_id, "strip")

    return app


def serve_index(index: SearchIndex, host: str = "127.0.0.1", port: int = 8765, allow_hosts: Sequence[str] = (),
                sock: socket.socket | None = None) -> None:
    """Run the app under uvicorn until interrupted, on ``sock`` (default: :func:`listen` on
    ``host:port``); the URL is printed once the port is ours."""
    import uvicorn

    sock = sock or listen(host, port)
    port = sock.getsockname()[1]
    print(f"tvrkit serve: {len(index)} videos at http://{host}:{port}/  (Ctrl-C stops)", flush=True)
    config = uvicorn.Config(create_app(index, allowed_hosts(host, allow_hosts)), log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])
