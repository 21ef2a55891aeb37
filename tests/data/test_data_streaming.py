"""Training from URL roots: WebDataset shards streamed from a real HTTP server on 127.0.0.1
(``http.server``) and an S3 endpoint (moto's server): every sample once per epoch over ranks
and workers, the same samples as the local loader, exact resume, damaged shards named and
skipped, a server that dies, and ``tvrkit upload``."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from collections import Counter
from pathlib import Path

import pytest
import torch
from shard_testdata import make_root

from benchmarks.servers import http_server, s3_server
from tvrkit.data import loader as loader_module
from tvrkit.data.config import DataConfig
from tvrkit.data.loader import build_train_loader, build_video_loader, epoch_batches, train_items
from tvrkit.data.streaming import resolve_root
from tvrkit.errors import ConfigError, DataError, SourceUnavailable
from tvrkit.shards.config import ShardConfig, UploadConfig
from tvrkit.shards.stage import run_shard
from tvrkit.shards.upload import run_upload

IMAGE = 32


@pytest.fixture(scope="module")
def local_root(tmp_path_factory) -> Path:
    """12 train and 4 test videos (2 captions each), one shard per video."""
    root = tmp_path_factory.mktemp("stream") / "root"
    make_root(root, {"train": 12, "test": 4})
    run_shard(ShardConfig(root=str(root), format="wds", workers=1, shard_size="1B", shard_multiple=1))
    shutil.rmtree(root / "compressed")  # a URL root holds the catalog and the shards only
    return root


@pytest.fixture(scope="module")
def server(local_root):
    served = http_server(local_root.parent).start()
    yield served
    served.stop()


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("TVRKIT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def config(root: str, **changes) -> DataConfig:
    return dataclasses.replace(DataConfig(root=root, batch_size=4, max_frames=3, workers=0, shuffle_buffer=8,
                                          retry_seconds=1.0), **changes)


def caption_ids(loader) -> list[list[str]]:
    return [batch["caption_ids"] for batch in loader]


def test_every_sample_once_per_epoch_over_ranks(server, monkeypatch) -> None:
    cfg = resolve_root(config(server.url + "/root"))
    items = {f"v{n:03d}#{c}" for n in range(12) for c in range(2)}
    for world in (1, 2, 3):
        seen: Counter[str] = Counter()
        lengths = []
        for rank in range(world):
            monkeypatch.setattr(loader_module, "rank_and_world", lambda r=rank, w=world: (r, w))
            loader = build_train_loader(dataclasses.replace(cfg, batch_size=6), IMAGE, epoch=0)
            batches = caption_ids(loader)
            assert all(len(b) == 6 // world for b in batches) and len(batches) == epoch_batches(loader)
            lengths.append(len(batches))
            seen.update(c for b in batches for c in b)
        assert len(set(lengths)) == 1  # ranks step together
        assert set(seen) == items  # every sample, padding only repeats a worker's own
        assert sum(seen.values()) - len(items) < 6  # padding: under one micro-batch per rank


def test_epochs_shuffle_differently_and_repeat_exactly(server) -> None:
    cfg = resolve_root(config(server.url + "/root"))
    first = caption_ids(build_train_loader(cfg, IMAGE, epoch=0))
    assert caption_ids(build_train_loader(cfg, IMAGE, epoch=0)) == first
    assert caption_ids(build_train_loader(cfg, IMAGE, epoch=1)) != first


def test_loader_workers_split_shards_and_resume_in_order(server) -> None:
    """Two loader workers: every sample once, and a resume at any batch (either worker's turn)
    continues with exactly the batches of the uninterrupted epoch."""
    cfg = resolve_root(config(server.url + "/root", workers=2))
    full = caption_ids(build_train_loader(cfg, IMAGE, epoch=0))
    assert {c for b in full for c in b} == {f"v{n:03d}#{c}" for n in range(12) for c in range(2)}
    for start in (1, 4):
        resumed = build_train_loader(cfg, IMAGE, epoch=0, start_batch=start)
        assert len(resumed) == len(full) - start
        assert caption_ids(resumed) == full[start:]


def test_same_samples_as_the_local_loader(server, local_root) -> None:
    """A caption's frames and tokens depend on (seed, epoch, item) only, not on where they came from."""
    streamed = {}
    for batch in build_train_loader(resolve_root(config(server.url + "/root", workers=0)), IMAGE, epoch=3):
        for i, cid in enumerate(batch["caption_ids"]):
            streamed[cid] = (batch["frames"][i], batch["tokens"][i])
    for batch in build_train_loader(config(str(local_root), workers=0), IMAGE, epoch=3):
        for i, cid in enumerate(batch["caption_ids"]):
            frames, tokens = streamed[cid]
            assert torch.equal(frames, batch["frames"][i]) and torch.equal(tokens, batch["tokens"][i])


def test_evaluation_reads_the_mirror(server, local_root) -> None:
    cfg = resolve_root(config(server.url + "/root"))
    videos = [v for b in build_video_loader(cfg, "test", IMAGE) for v in b["video_ids"]]
    assert videos == ["v012", "v013", "v014", "v015"]


def test_lmdb_or_raw_from_a_url_is_a_config_error() -> None:
    for fmt in ("lmdb", "raw"):
        with pytest.raises(ConfigError, match="data.format"):
            resolve_root(config("http://127.0.0.1:9/root", format=fmt))


def test_damaged_shard_is_named_and_its_samples_replaced(local_root, tmp_path, caplog) -> None:
    copy = tmp_path / "served" / "root"
    shutil.copytree(local_root, copy)
    shard = sorted((copy / "shards" / "wds" / "train").glob("*.tar"))[2]
    data = bytearray(shard.read_bytes())
    data[700] ^= 0xFF  # same size, different bytes: a corrupt shard, not a network fault
    shard.write_bytes(bytes(data))
    served = http_server(copy.parent).start()
    try:
        cfg = resolve_root(config(served.url + "/root", workers=0))
        with caplog.at_level(logging.ERROR):
            batches = caption_ids(build_train_loader(cfg, IMAGE, epoch=0))
        assert all(len(b) == 4 for b in batches)
        assert f"{served.url}/root/shards/wds/train/{shard.name}" in caplog.text and "sha256" in caplog.text
        with pytest.raises(DataError, match=shard.name):
            caption_ids(build_train_loader(dataclasses.replace(cfg, on_corrupt="raise"), IMAGE, epoch=0))
    finally:
        served.stop()


def test_server_dying_mid_epoch_names_the_url_in_bounded_time(local_root) -> None:
    served = http_server(local_root.parent).start()
    cfg = resolve_root(config(served.url + "/root", workers=0, shuffle_buffer=1, retry_seconds=1.0))
    full = caption_ids(build_train_loader(cfg, IMAGE, epoch=0))
    got = []
    loader = iter(build_train_loader(cfg, IMAGE, epoch=0))
    got.append(next(loader)["caption_ids"])
    served.stop()
    started = time.monotonic()
    with pytest.raises(SourceUnavailable, match=f"127.0.0.1:{served.port}/root/shards/wds/train/"):
        for batch in loader:
            got.append(batch["caption_ids"])
    assert time.monotonic() - started < 15
    served.start()  # back on the same port: the run resumes where it stopped
    try:
        rest = caption_ids(build_train_loader(cfg, IMAGE, epoch=0, start_batch=len(got)))
        assert got + rest == full
    finally:
        served.stop()


def test_upload_to_s3_then_train_from_it(local_root, monkeypatch, tmp_path) -> None:
    pytest.importorskip("s3fs")
    pytest.importorskip("moto")
    s3 = s3_server().start()
    try:
        for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": s3.url}.items():
            monkeypatch.setenv(key, value)
        import fsspec

        fsspec.filesystem("s3", skip_instance_cache=True).mkdir("bucket")
        shards = len(list(local_root.glob("shards/wds/*/*.tar")))
        first = run_upload(UploadConfig(root=str(local_root), url="s3://bucket/root"))
        assert first["ok"] == shards and first["skipped"] == 0
        again = run_upload(UploadConfig(root=str(local_root), url="s3://bucket/root"))
        assert again["ok"] == 0 and again["skipped"] == shards  # resumable: nothing copied twice
        cfg = resolve_root(config("s3://bucket/root"))
        assert {c for b in caption_ids(build_train_loader(cfg, IMAGE, epoch=0)) for c in b} == \
            {item.captions[0][0] for item in train_items(config(str(local_root)), {f"v{n:03d}" for n in range(12)})}
    finally:
        s3.stop()


def test_upload_refuses_a_damaged_shard(local_root, tmp_path) -> None:
    copy = tmp_path / "root"
    shutil.copytree(local_root, copy)
    shard = sorted((copy / "shards" / "wds" / "train").glob("*.tar"))[0]
    shard.write_bytes(shard.read_bytes()[:-1] + b"x")
    with pytest.raises(DataError, match=shard.name):
        run_upload(UploadConfig(root=str(copy), url=(tmp_path / "dest").as_uri()))
    assert not (tmp_path / "dest" / "catalog").exists()


def test_verify_reads_a_url_root(server, local_root, tmp_path) -> None:
    from tvrkit.shards.config import VerifyConfig
    from tvrkit.shards.verify import run_verify

    report = run_verify(VerifyConfig(root=server.url + "/root", quick=True))
    assert report["ok"] and report["shards"] == len(list(local_root.glob("shards/wds/*/*.tar")))
    copy = tmp_path / "served" / "root"
    shutil.copytree(local_root, copy)
    shard = sorted((copy / "shards" / "wds" / "test").glob("*.tar"))[0]
    shard.write_bytes(shard.read_bytes()[:-1024])
    served = http_server(copy.parent).start()
    try:
        report = run_verify(VerifyConfig(root=served.url + "/root", splits=("test",), quick=True))
    finally:
        served.stop()
    assert not report["ok"]
    assert report["problems"][0]["shard"] == f"{served.url}/root/shards/wds/test/{shard.name}"


def test_verify_frames_applies_to_streamed_frames(server, local_root) -> None:
    """``data.verify_frames`` makes a quietly damaged streamed frame unreadable, as it does on a local root."""
    from shard_testdata import quietly_damaged

    from tvrkit.data.streaming import StreamSource
    from tvrkit.shards.formats.base import CorruptSample, Pick
    from tvrkit.shards.stream import StreamedVideo

    cfg = resolve_root(config(server.url + "/root"))
    source = StreamSource(cfg.root, "train")
    good = next(get_format_entries(local_root))
    source.video = StreamedVideo("v000", {"fps": 3.0}, (quietly_damaged(good),))
    first: Pick = lambda info: [0]  # noqa: E731
    assert source._read("v000", first)[1].shape[0] == 1  # the lenient decode accepts the damaged frame
    source.verify_frames = True
    with pytest.raises((ValueError, CorruptSample)):
        source._read("v000", first)


def get_format_entries(root: Path):
    """The JPEG frames stored in ``root``'s first train shard."""
    from tvrkit.shards.formats.base import get_format
    from tvrkit.shards.manifest import read_manifest

    split = root / "shards" / "wds" / "train"
    shard = split / read_manifest(split)["shards"][0]["file"]
    return (e.data for e in get_format("wds").entries(shard, True) if e.frame is not None)
