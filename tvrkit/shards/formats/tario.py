"""The bytes of WebDataset tar files: deterministic member records and a fast member index.

Members are written with fixed metadata (mtime 0, uid/gid 0, no user or group names,
mode 0644), so the same frames always give the same bytes. A tar is a plain sequence of
512-byte-aligned records, so per-video fragments can be written in parallel and later
concatenated into shards by copying bytes. The index reads headers only (seeking over the
data), which lets loaders and ``verify`` locate every frame without unpacking anything.
"""

from __future__ import annotations

import dataclasses
import io
import os
import tarfile
from collections.abc import Iterator

from tvrkit.errors import DataError

BLOCK = 512
END_OF_ARCHIVE = b"\0" * (2 * BLOCK)


def member_bytes(name: str, data: bytes) -> bytes:
    """Header + data + padding of one regular-file member, identical for identical input."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    # GNU format writes long names as an extra record instead of failing (ustar: 100 chars).
    header = info.tobuf(format=tarfile.GNU_FORMAT, encoding="utf-8", errors="strict")
    return header + data + b"\0" * (-len(data) % BLOCK)


@dataclasses.dataclass(frozen=True)
class Member:
    """Where one file's bytes lie inside a tar."""

    name: str
    offset: int  # of the data, not the header
    size: int


def iter_members(path: str | os.PathLike[str]) -> Iterator[Member]:
    """Regular-file members of the tar (or fragment) at ``path``, reading headers only.

    Raises :class:`DataError` on a damaged header (bad checksum, data past the end of
    the file), so a corrupt or truncated shard is reported instead of mis-indexed.
    """
    size_on_disk = os.path.getsize(path)
    with open(path, "rb") as fh:
        pos = 0
        long_name: str | None = None
        while pos + BLOCK <= size_on_disk:
            fh.seek(pos)
            header = fh.read(BLOCK)
            if header == b"\0" * BLOCK:
                return  # end-of-archive marker
            try:
                info = tarfile.TarInfo.frombuf(header, encoding="utf-8", errors="strict")
            except (tarfile.HeaderError, UnicodeDecodeError) as exc:
                raise DataError(f"{path}: damaged tar header at byte {pos}: {exc}") from exc
            data_at = pos + BLOCK
            end = data_at + info.size
            if end > size_on_disk:
                raise DataError(f"{path}: member {info.name!r} runs past the end of the file (truncated)")
            if info.type == tarfile.GNUTYPE_LONGNAME:
                fh.seek(data_at)
                long_name = fh.read(info.size).rstrip(b"\0").decode("utf-8")
            elif info.type in (tarfile.REGTYPE, tarfile.AREGTYPE):
                yield Member(long_name or info.name, data_at, info.size)
                long_name = None
            else:
                raise DataError(f"{path}: unsupported tar entry type {info.type!r} for {info.name!r}")
            pos = end + (-info.size % BLOCK)
        if pos != size_on_disk:
            raise DataError(f"{path}: {size_on_disk - pos} trailing bytes do not form a tar record (truncated)")


def read_member(fh: io.BufferedReader | int, member: Member) -> bytes:
    """The bytes of ``member`` from an open file (object or descriptor) of its tar."""
    if isinstance(fh, int):
        data = os.pread(fh, member.size, member.offset)
    else:
        fh.seek(member.offset)
        data = fh.read(member.size)
    if len(data) != member.size:
        raise DataError(f"tar member {member.name!r}: short read ({len(data)} of {member.size} bytes)")
    return data
