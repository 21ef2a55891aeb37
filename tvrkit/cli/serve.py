"""``tvrkit serve INDEX``: the search page and JSON API of :mod:`tvrkit.search.server` under uvicorn."""

from __future__ import annotations

import click


@click.command("serve", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("index_dir", metavar="INDEX", type=click.Path(file_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind (localhost only unless you give another, e.g. 0.0.0.0: then name the host "
                   "names clients use with --allow-host).")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="Port to listen on.")
@click.option("--checkpoint", type=click.Path(dir_okay=False), help="Must be the checkpoint the index was built with.")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Also answer requests whose Host header is NAME (repeatable; localhost and --host always are).")
def serve(index_dir: str, host: str, port: int, checkpoint: str | None, allow_hosts: tuple[str, ...]) -> None:
    """Serve a search page for INDEX: a query box, results as frame strips with score and moment,
    a click plays the clip from the matched second. JSON: GET /api/search?q=...&k=..."""
    from tvrkit.search import open_index
    from tvrkit.search.server import listen, serve_index

    sock = listen(host, port)  # a busy port is an error before the index is loaded or a URL printed
    serve_index(open_index(index_dir, checkpoint=checkpoint), host, port, allow_hosts, sock)
