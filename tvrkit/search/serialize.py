"""A :class:`~tvrkit.search.query.SearchResult` as the JSON document the API and ``--json``
return, and as the table ``tvrkit search`` prints. Names are paths relative to the indexed
folder: no absolute path of the machine ever appears in a result."""

from __future__ import annotations

import json
from typing import Any

from tvrkit.search.query import SearchResult


def result_dict(result: SearchResult, urls: bool = False) -> dict[str, Any]:
    """``{"query", "seconds", "reranked", "results": [...]}``; with ``urls`` each result also
    names the strip and clip URLs of :mod:`tvrkit.search.server`."""
    results = []
    for rank, hit in enumerate(result.hits, 1):
        item = {"rank": rank, "video_id": hit.video_id, "name": hit.name, "score": round(hit.score, 6),
                "global_score": round(hit.global_score, 6), "duration": hit.duration,
                "moment": {"start": hit.moment.start, "end": hit.moment.end, "peak": hit.moment.peak}}
        if urls:
            item |= {"strip": f"/strips/{hit.video_id}.jpg", "clip": f"/clips/{hit.video_id}.mp4"}
        results.append(item)
    return {"query": result.query, "seconds": round(result.seconds, 6), "reranked": result.reranked,
            "results": results}


def result_json(result: SearchResult) -> str:
    return json.dumps(result_dict(result), indent=2, ensure_ascii=False)


def result_table(result: SearchResult) -> str:
    """A plain-text table: rank, score, moment, name."""
    lines = [f"{len(result.hits)} results for {result.query!r} in {result.seconds * 1000:.0f} ms"
             + (f" (fine levels re-scored {result.reranked})" if result.reranked else ""),
             f"{'rank':>4}  {'score':>8}  {'moment (s)':>13}  name"]
    for rank, hit in enumerate(result.hits, 1):
        moment = f"{hit.moment.start:5.1f}-{hit.moment.end:5.1f}"
        lines.append(f"{rank:>4}  {hit.score:8.4f}  {moment:>13}  {hit.name}")
    return "\n".join(lines)
