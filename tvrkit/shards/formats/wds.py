"""WebDataset shards: ``{split}-{000000}.tar``, one sample per video (``{key}.NNNN.jpg`` frames
in order + ``{key}.json`` meta), made by concatenating staged fragments in split order.

Any WebDataset pipeline can stream these tars; tvrkit's own loader indexes their members
(``tario.iter_members``) and reads frames by offset.
"""

from __future__ import annotations

import shutil
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from tvrkit.errors import DataError
from tvrkit.shards.formats.base import Entry, PlannedShard, ShardFormat
from tvrkit.shards.encode import META_SUFFIX, Staged
from tvrkit.shards.plan import plan_groups
from tvrkit.shards.formats.tario import END_OF_ARCHIVE, iter_members, read_member


def shard_name(split: str, index: int) -> str:
    """File name of shard ``index`` of ``split``."""
    return f"{split}-{index:06d}.tar"


def parse_member_name(name: str) -> tuple[str, int | None]:
    """``(video_id, frame index or None for the meta)`` of a member written by tvrkit."""
    key, dot, rest = name.partition(".")
    video_id = urllib.parse.unquote(key)
    if dot and rest == META_SUFFIX[1:]:
        return video_id, None
    number, _, ext = rest.partition(".")
    if not (dot and ext == "jpg" and number.isdigit()):
        raise DataError(f"unexpected member {name!r} (expected KEY.NNNN.jpg or KEY.json)")
    return video_id, int(number)


class WdsFormat(ShardFormat):
    name = "wds"

    def plan(self, split: str, videos: list[Staged], shard_size: int, shard_multiple: int) -> list[PlannedShard]:
        groups = plan_groups([v.bytes for v in videos], shard_size, shard_multiple)
        return [PlannedShard(shard_name(split, k), tuple(videos[i] for i in g)) for k, g in enumerate(groups)]

    def write(self, shard: PlannedShard, dest: Path) -> None:
        with open(dest, "wb") as out:
            for video in shard.videos:
                with open(video.fragment, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
            out.write(END_OF_ARCHIVE)  # two zero blocks, no padding to a record: fixed bytes

    def entries(self, path: Path, with_frames: bool) -> Iterator[Entry]:
        with open(path, "rb") as fh:
            for member in iter_members(path):
                video_id, frame = parse_member_name(member.name)
                wanted = with_frames or frame is None
                yield Entry(video_id, frame, read_member(fh, member) if wanted else None)
