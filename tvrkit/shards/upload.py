"""``run_upload``: copy a finished root's WebDataset shards and catalog to a URL (``s3://``,
``gs://``, ``file://``, anything fsspec writes), checked by sha256 end to end and resumable.

Each shard is hashed before it leaves (it must match its manifest, so a damaged local copy
is never published) and read back after it lands; a file already at the URL with the
recorded size and hash is skipped, so an interrupted upload continues where it stopped.
Each split's manifest is written after its shards and the catalog after every split:
a reader of the URL finds either a complete root or one that names what is missing.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import Any

from tvrkit.errors import DataError
from tvrkit.fsutil import sha256_file
from tvrkit.shards.config import UploadConfig
from tvrkit.shards.manifest import MANIFEST, find_manifests, read_manifest
from tvrkit.shards.remote import CATALOG_TABLES, Retry, filesystem, is_url, join, retrying

log = logging.getLogger(__name__)
_CHUNK = 8 << 20


def remote_sha256(url: str, retry: Retry) -> tuple[int, str] | None:
    """``(size, sha256)`` of the file at ``url``, read in chunks; None when there is none."""

    def digest() -> tuple[int, str] | None:
        fs, path = filesystem(url)
        if not fs.exists(path):
            return None
        sha, size = hashlib.sha256(), 0
        with fs.open(path, "rb", block_size=_CHUNK) as fh:
            while block := fh.read(_CHUNK):
                sha.update(block)
                size += len(block)
        return size, sha.hexdigest()

    return retrying(url, digest, retry)


def _put(local: Path, url: str, sha256: str, retry: Retry) -> bool:
    """Copy ``local`` (whose hash is ``sha256``) to ``url`` unless it is already there; True if copied."""
    size = local.stat().st_size
    if remote_sha256(url, retry) == (size, sha256):
        return False

    def put() -> None:
        fs, path = filesystem(url)
        fs.makedirs(fs._parent(path), exist_ok=True)
        fs.put_file(str(local), path)

    retrying(url, put, retry)
    landed = remote_sha256(url, retry)
    if landed != (size, sha256):
        raise DataError(f"{url}: after upload holds {landed} instead of ({size}, {sha256}) of {local}")
    return True


def run_upload(cfg: UploadConfig) -> dict[str, Any]:
    """Upload ``cfg.root``'s catalog and WebDataset splits to ``cfg.url``; returns a summary."""
    started = time.perf_counter()
    if not is_url(cfg.url):
        raise DataError(f"upload target {cfg.url!r} is not a URL (s3://bucket/root, gs://..., file:///path)")
    root, retry = Path(cfg.root), Retry(give_up_after=cfg.retry_seconds)
    splits = find_manifests(root, formats=("wds",), splits=cfg.splits)
    if not splits:
        raise DataError(f"no WebDataset shards under {root}/shards/wds (run `tvrkit shard --format wds` first)")
    copied = present = size = 0
    for directory in splits:
        manifest = read_manifest(directory)
        rel = directory.relative_to(root).as_posix()
        for record in manifest["shards"]:
            local = directory / record["file"]
            if not local.is_file() or sha256_file(local) != record["sha256"]:
                raise DataError(f"{local}: missing or does not match its manifest's sha256; "
                                "run `tvrkit verify` and reshard before uploading")
            done = _put(local, join(cfg.url, rel, record["file"]), record["sha256"], retry)
            copied, present, size = copied + done, present + (not done), size + record["bytes"] * done
        _put(directory / MANIFEST, join(cfg.url, rel, MANIFEST), sha256_file(directory / MANIFEST), retry)
        log.info("uploaded %s (%d shard(s))", rel, len(manifest["shards"]))
    for table in CATALOG_TABLES:
        local = root / "catalog" / f"{table}.parquet"
        _put(local, join(cfg.url, "catalog", local.name), sha256_file(local), retry)
    return {"stage": "upload", "ok": copied, "skipped": present, "failed": 0, "bytes": size,
            "splits": [d.name for d in splits], "url": cfg.url, "seconds": time.perf_counter() - started}
