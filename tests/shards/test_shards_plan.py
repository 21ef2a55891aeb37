"""Pure parts of sharding: size strings, shard planning, tar records and member names."""

from __future__ import annotations

import tarfile

import pytest

from tvrkit.errors import ConfigError, DataError
from tvrkit.shards.formats.tario import END_OF_ARCHIVE, iter_members, member_bytes
from tvrkit.shards.formats.wds import parse_member_name
from tvrkit.shards.plan import parse_size, plan_groups
from tvrkit.shards.staging import frame_member, meta_member, sample_key


@pytest.mark.parametrize("text,expected", [("512MB", 512_000_000), ("1GiB", 2**30), ("1.5kb", 1500),
                                           ("4096", 4096), (77, 77), (" 2 MiB ", 2 * 2**20)])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "12 parsecs", "MB", "-1MB"])
def test_parse_size_rejects(text):
    with pytest.raises(ConfigError):
        parse_size(text)


def _check_partition(groups, n):
    flat = [i for g in groups for i in g]
    assert flat == list(range(n)), "contiguous, in order, every video once"
    assert all(groups), "no empty shard"


def test_plan_rounds_count_to_multiple_and_balances():
    sizes = [10] * 40
    groups = plan_groups(sizes, shard_size=1000, shard_multiple=8)
    _check_partition(groups, 40)
    assert len(groups) == 8
    assert {len(g) for g in groups} == {5}


def test_plan_respects_size_bound():
    sizes = [100, 120, 90, 300, 80, 110, 95, 105, 60, 70]
    for multiple in (1, 2, 4):
        groups = plan_groups(sizes, shard_size=250, shard_multiple=multiple)
        _check_partition(groups, len(sizes))
        assert all(len(g) == 1 or sum(sizes[i] for i in g) <= 250 for g in groups)


def test_plan_gives_oversized_video_its_own_shard():
    groups = plan_groups([10, 10, 5000, 10], shard_size=100, shard_multiple=1)
    _check_partition(groups, 4)
    assert [2] in groups


def test_plan_fewer_videos_than_multiple_and_empty():
    assert plan_groups([5, 5, 5], shard_size=1000, shard_multiple=8) == [[0, 1, 2]]
    assert plan_groups([], shard_size=10) == []


def test_member_bytes_are_deterministic_and_tar_readable(tmp_path):
    long_name = "x" * 150 + ".0000.jpg"  # past ustar's 100 characters
    records = [member_bytes("a.0000.jpg", b"abc"), member_bytes(long_name, b"\x00" * 700),
               member_bytes("a.json", b"{}")]
    assert records[0] == member_bytes("a.0000.jpg", b"abc")
    assert all(len(r) % 512 == 0 for r in records)
    path = tmp_path / "s.tar"
    path.write_bytes(b"".join(records) + END_OF_ARCHIVE)
    with tarfile.open(path) as tar:
        infos = tar.getmembers()
        assert [i.name for i in infos] == ["a.0000.jpg", long_name, "a.json"]
        assert {i.mtime for i in infos} == {0} and {i.uname for i in infos} == {""}
        assert tar.extractfile(infos[0]).read() == b"abc"
    members = list(iter_members(path))
    assert [(m.name, m.size) for m in members] == [("a.0000.jpg", 3), (long_name, 700), ("a.json", 2)]
    data = path.read_bytes()
    assert data[members[0].offset:members[0].offset + 3] == b"abc"


def test_iter_members_reports_truncation_and_damage(tmp_path):
    good = member_bytes("a.0000.jpg", b"x" * 1000) + END_OF_ARCHIVE
    cut = tmp_path / "cut.tar"
    cut.write_bytes(good[:900])
    with pytest.raises(DataError, match="truncated|past the end"):
        list(iter_members(cut))
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"\x01" + good[1:])
    with pytest.raises(DataError, match="damaged tar header"):
        list(iter_members(bad))


@pytest.mark.parametrize("video_id", ["video7500", "-4wsuPCjDBc_5_15", "a.b/c d%e", "12345@N00_1.mov"])
def test_member_names_round_trip(video_id):
    assert "." not in sample_key(video_id) and "/" not in sample_key(video_id)
    assert parse_member_name(frame_member(video_id, 7)) == (video_id, 7)
    assert parse_member_name(meta_member(video_id)) == (video_id, None)


def test_parse_member_name_rejects_foreign_members():
    with pytest.raises(DataError):
        parse_member_name("key.txt")
