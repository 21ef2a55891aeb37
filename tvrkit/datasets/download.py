"""Fetch and unpack annotation archives safely.

:func:`download` resumes a partial file with HTTP range requests, retries network
errors with exponential backoff, verifies the sha256 when one is known, and renames
the file into place only when it is complete and verified (the digest is recorded in
``NAME.sha256`` beside it). :func:`extract_archive` unpacks zip and tar archives into
a temporary folder renamed into place, refusing any member that would land outside
the target (zip-slip) or is a link or device.
"""

from __future__ import annotations

import http.client
import logging
import os
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from tvrkit.errors import DataError
from tvrkit.fsutil import sha256_file, write_text_atomic

log = logging.getLogger(__name__)

_RETRY_STATUS = {408, 429, 500, 502, 503, 504}
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


class _Transient(Exception):
    """A failure worth retrying (network error, short read, 5xx)."""


def _part_path(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.part")


def _fetch_once(url: str, part: Path, timeout: float, chunk: int) -> None:
    """Append the rest of ``url`` to ``part`` (resuming at its size); raise on a short read."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416:  # the partial file is not a prefix the server knows: start over
            part.unlink(missing_ok=True)
            raise _Transient(f"HTTP 416 on resume of {url}") from exc
        if exc.code in _RETRY_STATUS:
            raise _Transient(f"HTTP {exc.code} from {url}") from exc
        raise DataError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _Transient(f"{url}: {exc}") from exc
    with response:
        status = getattr(response, "status", 200)
        resumed = have > 0 and status == 206
        length = response.headers.get("Content-Length")
        expected = (have if resumed else 0) + int(length) if length and length.isdigit() else None
        try:
            with open(part, "ab" if resumed else "wb") as fh:
                while block := response.read(chunk):
                    fh.write(block)
        except (OSError, http.client.HTTPException) as exc:
            raise _Transient(f"{url}: connection lost: {exc}") from exc
    got = part.stat().st_size
    if expected is not None and got < expected:
        raise _Transient(f"{url}: connection closed after {got} of {expected} bytes")


def download(
    url: str,
    dest: str | os.PathLike[str],
    sha256: str | None = None,
    retries: int = 5,
    backoff: float = 1.0,
    timeout: float = 60.0,
    chunk: int = 1 << 16,
) -> Path:
    """Download ``url`` to ``dest`` (resume, retry, verify, atomic rename); return ``dest``.

    An existing ``dest`` whose digest matches (or with no known digest) is kept. A
    checksum mismatch is a :class:`DataError` and leaves no file behind.
    """
    dest = Path(dest)
    if dest.exists() and (sha256 is None or sha256_file(dest) == sha256.lower()):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = _part_path(dest)
    for attempt in range(retries + 1):
        try:
            _fetch_once(url, part, timeout, chunk)
            break
        except _Transient as exc:
            if attempt == retries:
                raise DataError(f"cannot download {url} after {retries + 1} attempts: {exc}") from exc
            wait = backoff * 2**attempt
            log.warning("%s; retrying in %.1f s (resuming at byte %d)", exc, wait,
                        part.stat().st_size if part.exists() else 0)
            time.sleep(wait)
    digest = sha256_file(part)
    if sha256 is not None and digest != sha256.lower():
        part.unlink(missing_ok=True)
        raise DataError(f"checksum mismatch for {url}: expected sha256 {sha256}, got {digest}; "
                        "the download was deleted")
    os.replace(part, dest)
    write_text_atomic(dest.with_name(dest.name + ".sha256"), f"{digest}  {dest.name}\n")
    return dest


def is_archive(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a zip or tar archive (by suffix)."""
    return str(path).lower().endswith(ARCHIVE_SUFFIXES)


def _safe_member(name: str, archive: Path) -> PurePosixPath:
    """The member path, relative and inside the target, or a :class:`DataError`."""
    rel = PurePosixPath(name.replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts:
        raise DataError(f"{archive}: refusing member {name!r}: it would be written outside the target folder")
    return rel


def _extract_zip(archive: Path, target: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            rel = _safe_member(info.filename, archive)
            mode = (info.external_attr >> 16) & 0o170000
            if mode == 0o120000:
                raise DataError(f"{archive}: refusing member {info.filename!r}: symbolic link")
            if info.is_dir() or not rel.parts:
                continue
            out = target.joinpath(*rel.parts)
            out.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)


def _extract_tar(archive: Path, target: Path) -> None:
    with tarfile.open(archive) as tf:
        for member in tf.getmembers():
            rel = _safe_member(member.name, archive)
            if member.isdir() or not rel.parts:
                continue
            if not member.isfile():
                raise DataError(f"{archive}: refusing member {member.name!r}: links and devices are not extracted")
            out = target.joinpath(*rel.parts)
            out.parent.mkdir(parents=True, exist_ok=True)
            src = tf.extractfile(member)
            assert src is not None  # isfile() members always have data
            with src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)


EXTRACTED_FROM = ".extracted-from"


def _stamp(archive: Path) -> str:
    st = archive.stat()
    return f"{archive.name} {st.st_size} {st.st_mtime_ns}\n"


def _extracted_from(target: Path, stamp: str) -> bool:
    try:
        return (target / EXTRACTED_FROM).read_text(encoding="utf-8") == stamp
    except OSError:
        return False


def extract_archive(archive: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """Unpack ``archive`` into folder ``target`` (replaced as a whole, atomically); return it.

    A ``target`` already unpacked from this very archive file (name, size, mtime, recorded in
    ``target/.extracted-from``) is kept as it is: Slurm array tasks parse the annotations at
    the same time, and one replacing the folder while another reads it would break the reader."""
    archive, target = Path(archive), Path(target)
    stamp = _stamp(archive)
    if _extracted_from(target, stamp):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        if archive.name.lower().endswith(".zip"):
            _extract_zip(archive, tmp)
        else:
            _extract_tar(archive, tmp)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"{archive}: not a readable archive: {exc}") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    (tmp / EXTRACTED_FROM).write_text(stamp, encoding="utf-8")
    try:
        if target.exists() and not _extracted_from(target, stamp):
            shutil.rmtree(target)
        os.replace(tmp, target)
    except OSError:
        if not _extracted_from(target, stamp):  # not another process having just done the same
            raise
    shutil.rmtree(tmp, ignore_errors=True)
    return target
