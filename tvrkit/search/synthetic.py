"""Search on the synthetic dataset, for ``make demo`` and the tests: which videos to index,
and two figures that say whether search works: agreement of the top-1 video with ``tvrkit
eval``'s ranking for every caption, and how often the moment found for one event's words
lies inside that event's time window (``ROOT/raw/synthetic.json`` records each video's
duration; :data:`tvrkit.datasets.synthetic.WINDOWS` places the two events in it).

``python -m tvrkit.search.synthetic link --root ROOT --split test --out DIR`` links a split's
compressed videos into DIR; ``... report --root ROOT --index INDEX --eval EVAL_DIR`` prints
both figures and the command that serves the index.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from tvrkit.errors import DataError


def link_split(root: str | os.PathLike[str], split: str, out: str | os.PathLike[str]) -> list[str]:
    """Symlink ``ROOT/compressed/{id}.mp4`` of ``split``'s videos into ``out`` (links of
    videos no longer in the split are removed); returns the linked ids."""
    from tvrkit.catalog import read_catalog

    root, out = Path(root).resolve(), Path(out)
    ids = [v for v in read_catalog(root).split_video_ids(split) if (root / "compressed" / f"{v}.mp4").is_file()]
    if not ids:
        raise DataError(f"split {split!r} of {root} has no compressed video; run `tvrkit prepare` first")
    out.mkdir(parents=True, exist_ok=True)
    wanted = {f"{v}.mp4" for v in ids}
    for stale in out.iterdir():
        if stale.is_symlink() and stale.name not in wanted:
            stale.unlink()
    for vid in ids:
        link = out / f"{vid}.mp4"
        if not link.is_symlink():
            link.symlink_to(root / "compressed" / f"{vid}.mp4")
    return ids


def event_windows(root: str | os.PathLike[str]) -> dict[str, list[tuple[str, float, float]]]:
    """video id -> [(event phrase, start s, end s)] for both events, from ``ROOT/raw/synthetic.json``."""
    from tvrkit.datasets.synthetic import META_FILE, WINDOWS
    from tvrkit.datasets.synthetic_spec import ObjectEvent

    path = Path(root) / META_FILE
    if not path.is_file():
        raise DataError(f"{path} not found: not a synthetic dataset root (`tvrkit prepare synthetic`)")
    out = {}
    for spec in json.loads(path.read_text(encoding="utf-8"))["videos"]:
        d = spec["duration"]
        out[spec["video_id"]] = [(ObjectEvent(**event).phrase(), lo * d, hi * d)
                                 for event, (lo, hi) in zip(spec["events"], WINDOWS, strict=True)]
    return out


def _video_of(index: Any) -> dict[str, str]:
    """Dataset video id (the linked file's stem) -> library id."""
    return {Path(r["relpath"]).stem: r["video_id"] for r in index.rows}


def moment_accuracy(index: Any, root: str | os.PathLike[str]) -> dict[str, Any]:
    """For every indexed video and each of its events: the moment ``index`` finds in that video
    for the event's own words; hit when the moment's centre lies in the event's window."""
    windows = event_windows(root)
    hits = strict = total = 0
    for vid, library_id in _video_of(index).items():
        for phrase, lo, hi in windows.get(vid, []):
            moment = index.locate(phrase, library_id)
            centre = (moment.start + moment.end) / 2
            hits += lo <= centre <= hi
            strict += lo <= moment.start and moment.end <= hi
            total += 1
    return {"events": total, "centre_in_window": hits / total if total else 0.0,
            "inside_window": strict / total if total else 0.0}


def top1_agreement(index: Any, eval_dir: str | os.PathLike[str], root: str | os.PathLike[str],
                   rerank_topk: int | None = None) -> dict[str, Any]:
    """How often ``index.search(caption, 1)`` returns the top-1 video of the evaluation's
    ranking (``EVAL_DIR/ranks.parquet``) for each caption it ranked; captions are read from
    the catalog of ``root``; ``rerank_topk`` None re-scores the whole library (as eval does)."""
    import pyarrow.parquet as pq

    from tvrkit.catalog import read_catalog

    captions = {r["caption_id"]: r["caption"] for r in read_catalog(root).captions.to_pylist()}
    library = _video_of(index)
    rows = [r for r in pq.read_table(Path(eval_dir) / "ranks.parquet").to_pylist() if r["direction"] == "t2v"]
    agree, differ = 0, []
    for r in rows:
        top = index.search(captions[r["query_id"]], 1, rerank_topk).hits[0].video_id
        if top == library.get(r["top10"][0]):
            agree += 1
        else:
            differ.append(r["query_id"])
    return {"captions": len(rows), "agree": agree, "rate": agree / len(rows) if rows else 0.0, "differ": differ}


def main(argv: list[str] | None = None) -> None:
    """``link`` or ``report`` (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    link = sub.add_parser("link", help="link a split's compressed videos into a folder")
    link.add_argument("--root", required=True)
    link.add_argument("--split", default="test")
    link.add_argument("--out", required=True)
    report = sub.add_parser("report", help="top-1 agreement with eval, moment accuracy, the serve command")
    report.add_argument("--root", required=True)
    report.add_argument("--index", required=True)
    report.add_argument("--eval", dest="eval_dir", required=True)
    args = parser.parse_args(argv)
    if args.command == "link":
        print(f"linked {len(link_split(args.root, args.split, args.out))} videos of split {args.split} into {args.out}")
        return
    from tvrkit.search import open_index

    index = open_index(args.index)
    agreement = top1_agreement(index, args.eval_dir, args.root)
    moments = moment_accuracy(index, args.root)
    print(f"search index {args.index}: {len(index)} videos\n"
          f"  top-1 video = eval's top-1 for {agreement['agree']}/{agreement['captions']} captions "
          f"({100 * agreement['rate']:.1f} %)\n"
          f"  moment for one event's words: centre inside that event's window {100 * moments['centre_in_window']:.1f} %"
          f", wholly inside {100 * moments['inside_window']:.1f} % ({moments['events']} events)\n"
          f"search it in a browser:  tvrkit serve {args.index}   (then open http://127.0.0.1:8765/)")


if __name__ == "__main__":
    main()
