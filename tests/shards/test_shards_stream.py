"""The pure parts of streaming: shard assignment over ranks and workers, the seeded bounded
shuffle, tar parsing of a shard held in memory, retry waits and URL helpers."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from tvrkit.errors import ConfigError, DataError, SourceUnavailable
from tvrkit.shards.remote import Retry, is_url, join, mirror_dir, retrying
from tvrkit.shards.staging import frame_member, meta_member
from tvrkit.shards.stream import assign_shards, buffer_order, shard_videos, usable_workers


@pytest.mark.parametrize(("shards", "world", "workers"), [(8, 2, 4), (7, 2, 2), (5, 3, 1), (3, 3, 2)])
def test_every_shard_to_exactly_one_slot_and_ranks_balanced(shards, world, workers) -> None:
    workers = usable_workers(shards, world, workers)
    slots = assign_shards(shards, seed=3, epoch=1, world=world, workers=workers)
    flat = [s for rank in slots for worker in rank for s in worker]
    assert sorted(flat) == list(range(shards))
    per_rank = [sum(len(w) for w in rank) for rank in slots]
    assert max(per_rank) - min(per_rank) <= 1
    assert all(worker for rank in slots for worker in rank)  # no idle worker is planned


def test_shard_order_is_seeded_per_epoch() -> None:
    assert assign_shards(16, 0, 0, 2, 2) == assign_shards(16, 0, 0, 2, 2)
    assert assign_shards(16, 0, 0, 2, 2) != assign_shards(16, 0, 1, 2, 2)
    assert assign_shards(16, 0, 0, 2, 2) != assign_shards(16, 1, 0, 2, 2)


def test_fewer_shards_than_ranks_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="shard-multiple"):
        assign_shards(1, 0, 0, 2, 1)


def test_buffer_order_is_a_seeded_bounded_permutation() -> None:
    order = buffer_order(200, 16, seed=5)
    assert sorted(order) == list(range(200)) and order != list(range(200))
    assert order == buffer_order(200, 16, seed=5) != buffer_order(200, 16, seed=6)
    # never more than the buffer's worth read ahead of what has been emitted
    assert all(p <= i + 16 + 1 for i, p in enumerate(order))
    assert buffer_order(10, 1, seed=5) == list(range(10))


def _tar(members: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_shard_videos_groups_frames_and_meta() -> None:
    data = _tar([(frame_member("a.b/c", 0), b"f0"), (frame_member("a.b/c", 1), b"f1"),
                 (meta_member("a.b/c"), b'{"frames": 2, "fps": 3.0}'),
                 (frame_member("d", 0), b"g0"), (meta_member("d"), b'{"frames": 1, "fps": 3.0}')])
    videos = list(shard_videos(data, "s.tar"))
    assert [(v.video_id, v.jpegs, v.meta["frames"]) for v in videos] == [("a.b/c", (b"f0", b"f1"), 2),
                                                                        ("d", (b"g0",), 1)]


def test_shard_videos_names_the_shard_when_damaged() -> None:
    data = _tar([(frame_member("a", 0), b"f0"), (meta_member("a"), b'{"frames": 2, "fps": 3.0}')])
    with pytest.raises(DataError, match="s.tar: a has 1 frames"):
        list(shard_videos(data, "s.tar"))
    with pytest.raises(DataError, match="s.tar: damaged tar"):
        list(shard_videos(data[:700], "s.tar"))


def test_retry_waits_double_and_stay_within_the_budget() -> None:
    assert Retry(0.5, 8.0, 60.0).delays() == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0]
    assert sum(Retry(0.5, 8.0, 10.0).delays()) <= 10.0
    calls = []

    def failing() -> None:
        calls.append(1)
        raise ConnectionResetError("reset by peer")

    with pytest.raises(SourceUnavailable, match="http://h/x: unreachable after 3 attempts"):
        retrying("http://h/x", failing, Retry(0.01, 0.02, 0.03))
    assert len(calls) == 3
    with pytest.raises(FileNotFoundError):  # a missing file is not retried
        retrying("http://h/x", lambda: (_ for _ in ()).throw(FileNotFoundError("x")), Retry(0.01, 0.02, 1.0))


def test_url_helpers(tmp_path) -> None:
    assert is_url("s3://b/r") and is_url("http://h:1/r") and not is_url("data/root") and not is_url(tmp_path)
    assert join("s3://b/r/", "/shards/", "wds") == "s3://b/r/shards/wds"
    assert mirror_dir("http://h:1/r") != mirror_dir("http://h:2/r")


def test_upload_cli_copies_and_resumes(tmp_path) -> None:
    from shard_testdata import sharded_root

    from tvrkit.cli import cli

    root = sharded_root(tmp_path / "root", formats=("wds",))
    dest = (tmp_path / "dest").as_uri()
    first = CliRunner().invoke(cli, ["upload", str(root), dest])
    assert first.exit_code == 0, first.output
    shards = sorted(p.relative_to(root) for p in root.glob("shards/wds/*/*.tar"))
    assert f"ok: {len(shards)} shard(s) copied" in first.output
    copied = Path(tmp_path / "dest")
    assert sorted(p.relative_to(copied) for p in copied.glob("shards/wds/*/*.tar")) == shards
    assert (copied / "catalog" / "videos.parquet").read_bytes() == (root / "catalog" / "videos.parquet").read_bytes()
    again = CliRunner().invoke(cli, ["upload", str(root), dest])
    assert again.exit_code == 0 and f"0 shard(s) copied (0.0 MB), {len(shards)} already there" in again.output
