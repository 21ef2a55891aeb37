"""Dataset roots at a URL (``http(s)://``, ``s3://``, ``gs://`` with gcsfs, ``file://``, anything
fsspec opens): whole-file reads with bounded retries, checksums, and the root's small files
mirrored locally.

A URL root has the layout of a local one. Its catalog parquet and WebDataset manifests are
copied into a local mirror directory (``$TVRKIT_CACHE``, default ``~/.cache/tvrkit/roots``),
so every stage reads them as it reads a local root; ``source.json`` in the mirror names the
URL the shards stream from. Shards are fetched whole, checked against the manifest's size and
sha256, and only then parsed, so a network fault is retried and a damaged shard is named,
never mistaken for each other. S3 endpoints and credentials come from the usual places
(``AWS_*`` variables, ``~/.aws``; ``FSSPEC_S3_ENDPOINT_URL`` for an S3-compatible server).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tvrkit.errors import ConfigError, DataError, SourceUnavailable
from tvrkit.fsutil import write_bytes_atomic

log = logging.getLogger(__name__)
SOURCE_FILE = "source.json"  # in a mirror: {"url": ...}
CATALOG_TABLES = ("videos", "captions", "splits")
T = TypeVar("T")


class CorruptShard(DataError):
    """A shard whose bytes arrived whole but do not match its manifest's sha256."""


@dataclasses.dataclass(frozen=True)
class Retry:
    """How long a read keeps trying: waits of ``first_delay * 2**k`` capped at ``max_delay``, as
    many as fit in ``give_up_after`` seconds of waiting (each attempt has its own timeouts too)."""

    first_delay: float = 0.5
    max_delay: float = 8.0
    give_up_after: float = 60.0

    def delays(self) -> list[float]:
        """The waits between attempts."""
        waits: list[float] = []
        delay = self.first_delay
        while sum(waits) + delay <= self.give_up_after:
            waits.append(delay)
            delay = min(delay * 2, self.max_delay)
        return waits


def is_url(root: str | os.PathLike[str]) -> bool:
    """Whether ``root`` names a URL (``scheme://...``) rather than a local path."""
    return isinstance(root, str) and "://" in root


def join(url: str, *parts: str) -> str:
    """``url/part/part`` without doubled slashes."""
    return "/".join([url.rstrip("/"), *(p.strip("/") for p in parts)])


def filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem of ``url`` (with timeouts for HTTP) and the path within it."""
    import fsspec

    protocol = url.split("://", 1)[0]
    options: dict[str, Any] = {}
    if protocol in ("http", "https"):
        import aiohttp

        # a server that accepts the connection and then stalls must fail, not hang the run
        options["client_kwargs"] = {"timeout": aiohttp.ClientTimeout(sock_connect=10, sock_read=30)}
    try:
        fs, path = fsspec.core.url_to_fs(url, **options)
    except (ImportError, ValueError) as exc:
        raise ConfigError(f"data.root: cannot open {url}: {exc} (s3:// needs s3fs, gs:// needs gcsfs)") from exc
    return fs, path


def retrying(url: str, action: Callable[[], T], retry: Retry = Retry()) -> T:
    """``action()``, retried with backoff on transient errors (refused, reset, timed out, short);
    :class:`FileNotFoundError` and config errors pass at once, and an error that outlasts
    ``retry`` becomes :class:`SourceUnavailable` naming ``url``."""
    delays = iter(retry.delays())
    attempt = 0
    while True:
        attempt += 1
        try:
            return action()
        except (FileNotFoundError, ConfigError):
            raise
        except Exception as exc:  # aiohttp, botocore and fsspec raise many types for one outage
            wait = next(delays, None)
            if wait is None:
                raise SourceUnavailable(f"{url}: unreachable after {attempt} attempts over "
                                        f"{retry.give_up_after:.0f} s: {type(exc).__name__}: {exc}") from exc
            log.warning("%s: %s: %s; retry %d in %.1f s", url, type(exc).__name__, exc, attempt, wait)
            time.sleep(wait)


def read_url(url: str, retry: Retry = Retry(), size: int | None = None) -> bytes:
    """The bytes at ``url`` (``size`` of them when given), read with :func:`retrying`."""

    def read() -> bytes:
        fs, path = filesystem(url)
        data = fs.cat_file(path)
        if size is not None and len(data) != size:
            raise OSError(f"short read: {len(data)} of {size} bytes")
        return data

    return retrying(url, read, retry)


def read_shard(url: str, record: dict[str, Any], retry: Retry = Retry()) -> bytes:
    """A shard's bytes, checked against its manifest ``record`` (size, sha256)."""
    data = read_url(url, retry, size=record["bytes"])
    digest = hashlib.sha256(data).hexdigest()
    if digest != record["sha256"]:
        raise CorruptShard(f"{url}: sha256 {digest[:12]}... does not match the manifest's {record['sha256'][:12]}...")
    return data


def cache_home() -> Path:
    """Where URL roots are mirrored (``$TVRKIT_CACHE`` or ``~/.cache/tvrkit/roots``)."""
    return Path(os.environ.get("TVRKIT_CACHE") or Path.home() / ".cache" / "tvrkit" / "roots")


def mirror_dir(url: str) -> Path:
    """The local mirror of the URL root ``url`` (one directory per URL)."""
    name = url.split("://", 1)[1].strip("/").replace("/", "_").replace(":", "_")[-48:]
    return cache_home() / f"{name}-{hashlib.sha256(url.encode()).hexdigest()[:12]}"


def mirror_root(url: str, splits: list[str] | None, fmt: str = "wds", retry: Retry = Retry(),
                into: Path | None = None) -> Path:
    """Copy the catalog of the root at ``url`` and the ``fmt`` manifests of ``splits`` (those that
    exist; None: every split of the catalog) into its mirror (or ``into``), fresh on every call
    (they are small); return the mirror."""
    from tvrkit.catalog import catalog_dir, read_catalog
    from tvrkit.shards.formats.base import split_dir
    from tvrkit.shards.manifest import MANIFEST

    mirror = into or mirror_dir(url)
    for table in CATALOG_TABLES:
        try:
            data = read_url(join(url, "catalog", f"{table}.parquet"), retry)
        except FileNotFoundError:
            raise DataError(f"catalog table missing: {join(url, 'catalog', table + '.parquet')} "
                            "(is data.root the root `tvrkit upload` copied?)") from None
        write_bytes_atomic(catalog_dir(mirror) / f"{table}.parquet", data)
    for split in dict.fromkeys(read_catalog(mirror).split_names() if splits is None else splits):
        local = split_dir(mirror, fmt, split) / MANIFEST
        try:
            data = read_url(join(url, "shards", fmt, split, MANIFEST), retry)
        except FileNotFoundError:
            local.unlink(missing_ok=True)  # not sharded there (any more): readers say so
            continue
        write_bytes_atomic(local, data)
    write_bytes_atomic(mirror / SOURCE_FILE, json.dumps({"url": url}).encode())
    return mirror


def source_url(root: str | os.PathLike[str]) -> str | None:
    """The URL a mirrored root streams its shards from (None for an ordinary local root)."""
    path = Path(root) / SOURCE_FILE
    return json.loads(path.read_text(encoding="utf-8"))["url"] if path.is_file() else None


def fetch_split(root: str | os.PathLike[str], directory: Path, shards: list[dict[str, Any]],
                retry: Retry = Retry()) -> int:
    """Copy into ``directory`` the shards of a mirrored root's split that it lacks, each checked
    against its manifest record before it is renamed into place (a file there with the recorded
    size was checked when it came). Returns how many were fetched; nothing for a local root."""
    url = source_url(root)
    if url is None:
        return 0
    split_url = join(url, *directory.relative_to(Path(root)).parts)
    fetched = 0
    for record in shards:
        local = directory / record["file"]
        if local.is_file() and local.stat().st_size == record["bytes"]:
            continue
        write_bytes_atomic(local, read_shard(join(split_url, record["file"]), record, retry))
        fetched += 1
    if fetched:
        log.info("fetched %d shard(s) of %s into %s", fetched, split_url, directory)
    return fetched
