"""Annotation downloads from a local HTTP server on 127.0.0.1: resume after a dropped
connection, retries, checksum failures that keep no file, and archive extraction that
refuses members escaping the target (zip-slip)."""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from tvrkit.datasets.base import AnnotatedDataset, BuildRequest, Source, fetch_annotations
from tvrkit.datasets.download import EXTRACTED_FROM, download, extract_archive
from tvrkit.errors import ConfigError, DataError

PAYLOAD = bytes(range(256)) * 400  # 100 KiB


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    log: list[tuple[str, str | None]] = []
    failures: dict[str, int] = {}

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        rng = self.headers.get("Range")
        self.log.append((self.path, rng))
        name = self.path.rsplit("/", 1)[-1]
        if self.path.startswith("/flaky/") and self.failures.get(self.path, 0) < 2:
            self.failures[self.path] = self.failures.get(self.path, 0) + 1
            self.send_error(503)
            return
        data = self.files.get(name)
        if data is None:
            self.send_error(404)
            return
        start = int(rng.split("=")[1].split("-")[0]) if rng else 0
        self.send_response(206 if rng else 200)
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        if self.path.startswith("/drop/") and not rng:
            body = body[: len(body) // 3]  # promise everything, send a third, hang up
            self.close_connection = True
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server():
    _Handler.files = {"data.bin": PAYLOAD}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_download_verifies_and_records_the_checksum(server, tmp_path):
    dest = download(f"{server}/ok/data.bin", tmp_path / "data.bin", sha256=_sha(PAYLOAD), backoff=0)
    assert dest.read_bytes() == PAYLOAD
    assert (tmp_path / "data.bin.sha256").read_text().split()[0] == _sha(PAYLOAD)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin", "data.bin.sha256"]


def test_dropped_connection_is_resumed_with_a_range_request(server, tmp_path):
    _Handler.log.clear()
    dest = download(f"{server}/drop/data.bin", tmp_path / "data.bin", sha256=_sha(PAYLOAD), backoff=0)
    assert dest.read_bytes() == PAYLOAD
    ranges = [rng for path, rng in _Handler.log if path == "/drop/data.bin"]
    assert ranges[0] is None and ranges[1] == f"bytes={len(PAYLOAD) // 3}-"  # resumed, not restarted


def test_server_errors_are_retried(server, tmp_path):
    dest = download(f"{server}/flaky/data.bin", tmp_path / "data.bin", backoff=0)
    assert dest.read_bytes() == PAYLOAD
    assert _Handler.failures["/flaky/data.bin"] == 2


def test_wrong_checksum_fails_clearly_and_keeps_no_file(server, tmp_path):
    with pytest.raises(DataError, match="checksum mismatch.*deleted"):
        download(f"{server}/ok/data.bin", tmp_path / "data.bin", sha256="0" * 64, backoff=0)
    assert list(tmp_path.iterdir()) == []


def test_missing_file_is_a_clear_error_without_retries(server, tmp_path):
    _Handler.log.clear()
    with pytest.raises(DataError, match="HTTP 404"):
        download(f"{server}/ok/nothing.zip", tmp_path / "nothing.zip", backoff=0)
    assert len(_Handler.log) == 1 and list(tmp_path.iterdir()) == []


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_zip_slip_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    archive.write_bytes(_zip({"ok.txt": b"fine", "../../escaped.txt": b"pwned"}))
    with pytest.raises(DataError, match=r"refusing member '\.\./\.\./escaped\.txt'"):
        extract_archive(archive, tmp_path / "out" / "evil")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "out" / "escaped.txt").exists()
    assert not (tmp_path / "out" / "evil").exists()  # nothing half-extracted is left
    absolute = tmp_path / "abs.zip"
    absolute.write_bytes(_zip({"/etc/evil": b"x"}))
    with pytest.raises(DataError, match="outside the target"):
        extract_archive(absolute, tmp_path / "abs")


def test_tar_links_and_traversal_are_refused(tmp_path):
    for name, kind in (("../up.txt", tarfile.REGTYPE), ("link", tarfile.SYMTYPE)):
        archive = tmp_path / f"{kind!r}.tar.gz"
        with tarfile.open(archive, "w:gz") as tf:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = "/etc/passwd"
            tf.addfile(info, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)
        with pytest.raises(DataError, match="refusing member"):
            extract_archive(archive, tmp_path / "out")


def test_extract_nested_archive(tmp_path):
    archive = tmp_path / "data.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        for name, data in (("pkg/a.json", b"{}"), ("pkg/sub/b.txt", b"hi")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    out = extract_archive(archive, tmp_path / "x")
    assert (out / "pkg" / "sub" / "b.txt").read_bytes() == b"hi"
    with pytest.raises(DataError, match="not a readable archive"):
        (tmp_path / "bad.zip").write_bytes(b"PK not really")
        extract_archive(tmp_path / "bad.zip", tmp_path / "y")


def _lister(folder: Path):
    files = (p for p in folder.rglob("*") if p.is_file() and p.name != EXTRACTED_FROM)
    return sorted(p.relative_to(folder).as_posix() for p in files)


def test_fetch_annotations_sources_override_and_user_archive(server, tmp_path):
    _Handler.files["ann.zip"] = _zip({"ann/list.txt": b"video1\n"})
    seen = []
    dataset = AnnotatedDataset("toy", (Source(f"{server}/ok/ann.zip", "ann.zip", _sha(_Handler.files["ann.zip"])),),
                               parse=lambda folder: seen.append(_lister(folder)))
    dataset.build(BuildRequest(root=tmp_path / "a"))
    assert seen[-1] == ["ann/list.txt"] and (tmp_path / "a" / "raw" / "ann.zip").exists()
    # --annotations-url replaces the dataset's source
    _Handler.files["other.zip"] = _zip({"x.txt": b"1"})
    dataset.build(BuildRequest(root=tmp_path / "b", annotations_url=f"{server}/ok/other.zip"))
    assert seen[-1] == ["x.txt"]
    # --annotations with an archive the user has: no network
    _Handler.log.clear()
    dataset.build(BuildRequest(root=tmp_path / "c", annotations=tmp_path / "a" / "raw" / "ann.zip"))
    assert seen[-1] == ["ann/list.txt"] and _Handler.log == []
    with pytest.raises(ConfigError, match="no such file"):
        fetch_annotations(dataset, BuildRequest(root=tmp_path, annotations=tmp_path / "nope.zip"))
    # plain files (DiDeMo's three JSONs) are parsed where they were downloaded
    _Handler.files.update({"train.json": b"[]", "test.json": b"[]"})
    plain = AnnotatedDataset("plain", tuple(Source(f"{server}/ok/{n}", n) for n in ("train.json", "test.json")),
                             parse=lambda folder: seen.append(_lister(folder)))
    plain.build(BuildRequest(root=tmp_path / "d"))
    assert seen[-1] == ["test.json", "test.json.sha256", "train.json", "train.json.sha256"]
    hand_only = AnnotatedDataset("lsmdc-like", (), parse=lambda folder: None, note="Ask MPII.")
    with pytest.raises(ConfigError, match="Ask MPII.*--annotations"):
        fetch_annotations(hand_only, BuildRequest(root=tmp_path))


def test_an_archive_already_unpacked_is_kept_and_a_changed_one_replaces_it(tmp_path):
    archive = tmp_path / "data.tar"
    with tarfile.open(archive, "w") as tf:
        info = tarfile.TarInfo("a.txt")
        info.size = 2
        tf.addfile(info, io.BytesIO(b"hi"))
    out = extract_archive(archive, tmp_path / "x")
    (out / "a.txt").write_bytes(b"edited")  # a second extraction (another array task) leaves it alone
    assert extract_archive(archive, tmp_path / "x") == out and (out / "a.txt").read_bytes() == b"edited"
    os.utime(archive, ns=(0, 0))  # a re-downloaded archive: unpacked again
    assert (extract_archive(archive, tmp_path / "x") / "a.txt").read_bytes() == b"hi"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.tar", "x"]
