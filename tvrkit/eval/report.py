"""``report.html``: one self-contained page a person can open to see what the numbers mean.

It shows the metrics with everything that qualifies them (post-processing, transductive use
of test queries, missing videos, ties), the plots, the order-pair accuracy (and other runs'
for comparison) and sample queries with their top-5 videos as frame strips, the correct
video marked. Images are embedded as base64 data URIs so the file can be copied alone.
The page is built from plain inputs (:class:`ReportQuery`, JPEG bytes), so it is tested
without a model; :mod:`tvrkit.retrieval.strips` turns videos into strips.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import os
from collections.abc import Mapping, Sequence
from typing import Any

from tvrkit.fsutil import write_text_atomic

RECALL_KEYS = ("R@1", "R@5", "R@10", "R@50", "MdR", "MnR")

_CSS = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #1d1d1f; background: #fafafa; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 8px 0; background: #fff; }
td, th { border: 1px solid #bbb; padding: 4px 10px; text-align: right; }
th { background: #e8e8ee; } td.l, th.l { text-align: left; }
.flag { display: inline-block; padding: 2px 8px; border-radius: 4px; margin-right: 6px; font-weight: 600; }
.warn { background: #ffd166; } .ok { background: #b7e4c7; }
.query { background: #fff; border: 1px solid #ccc; border-radius: 6px; padding: 10px; margin: 12px 0; }
.caption { font-size: 15px; font-weight: 600; }
.hit { display: flex; align-items: center; gap: 10px; margin: 4px 0; padding: 3px; border: 3px solid transparent; }
.hit.correct { border-color: #1a9e3f; background: #e6f6ea; }
.hit img { height: 64px; display: block; }
.mark { color: #1a9e3f; font-weight: 700; }
.meta { color: #555; font-size: 13px; }
"""


@dataclasses.dataclass(frozen=True)
class ReportQuery:
    """One sample text query: its caption, the correct video, its rank and the top videos."""

    caption_id: str
    caption: str
    video_id: str
    rank: float  # under the run's tie policy (``mean`` gives fractional ranks)
    top: tuple[tuple[str, float | None], ...]  # (video_id, score or None when not kept), best first


def data_uri(data: bytes, mime: str) -> str:
    """``data:`` URI of ``data`` (the page must not depend on files beside it)."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, float) else _esc(value)


def _flags(metrics: Mapping[str, Any]) -> str:
    flags = []
    post = metrics.get("post") or "none"
    flags.append(f'<span class="flag {"ok" if post == "none" else "warn"}">post-processing: {_esc(post)}</span>')
    if metrics.get("transductive"):
        flags.append('<span class="flag warn">transductive: test queries used by post-processing</span>')
    missing = metrics.get("missing_videos") or 0
    cls = "warn" if missing else "ok"
    flags.append(f'<span class="flag {cls}">missing videos: {_esc(missing)} (ranked last)</span>')
    if metrics.get("ties") is not None:
        flags.append(f'<span class="flag ok">ties: {_esc(_describe_ties(metrics["ties"]))}</span>')
    return "<p>" + "".join(flags) + "</p>"


def _describe_ties(ties: Any) -> str:
    if isinstance(ties, Mapping):
        return ", ".join(f"{k}={v}" for k, v in ties.items())
    return str(ties)


def _metrics_table(metrics: Mapping[str, Any]) -> str:
    head = "".join(f"<th>{k}</th>" for k in RECALL_KEYS)
    rows = []
    for direction in ("t2v", "v2t"):
        values = metrics.get(direction)
        if isinstance(values, Mapping):
            cells = "".join(f"<td>{_fmt(values.get(k, ''))}</td>" for k in RECALL_KEYS)
            rows.append(f'<tr><th class="l">{direction}</th>{cells}</tr>')
    return f'<table><tr><th class="l"></th>{head}</tr>{"".join(rows)}</table>'


def _info_table(info: Mapping[str, Any]) -> str:
    rows = "".join(f'<tr><th class="l">{_esc(k)}</th><td class="l">{_fmt(v)}</td></tr>' for k, v in info.items())
    return f"<table>{rows}</table>"


def _pairs_section(pairs: Mapping[str, Any] | None, comparison: Sequence[Mapping[str, Any]]) -> str:
    if not pairs and not comparison:
        return ""
    parts = ["<h2>Order-only pairs</h2>",
             '<p class="meta">For each caption of a video in an order-only pair: is the video scored above its '
             "twin (same events, reversed order)? Chance is 0.5; an order-blind head sits there. "
             "Ties count one half.</p>"]
    rows = []
    for run in ([{"run": "this run", **pairs}] if pairs else []) + list(comparison):
        for level, acc in sorted((run.get("accuracy") or {}).items()):
            rows.append(
                f'<tr><td class="l">{_esc(run.get("run", ""))}</td><td class="l">{_esc(run.get("head", ""))}</td>'
                f'<td class="l">{_esc(level)}</td><td>{acc:.3f}</td><td>{_esc(run.get("n_captions", ""))}</td>'
                f'<td>{_esc((run.get("ties") or {}).get(level, ""))}</td></tr>'
            )
    parts.append('<table><tr><th class="l">run</th><th class="l">temporal head</th><th class="l">level</th>'
                 f"<th>pair accuracy</th><th>captions</th><th>ties</th></tr>{''.join(rows)}</table>")
    return "".join(parts)


def _strip_img(video_id: str, strips: Mapping[str, bytes]) -> str:
    strip = strips.get(video_id)
    if strip is None:
        return '<span class="meta">(no frames available)</span>'
    return f'<img alt="frames of {_esc(video_id)}" src="{data_uri(strip, "image/jpeg")}">'


def _query_block(query: ReportQuery, strips: Mapping[str, bytes]) -> str:
    hits = []
    for position, (video_id, score) in enumerate(query.top, start=1):
        correct = video_id == query.video_id
        mark = '<span class="mark">&#10004; correct</span>' if correct else ""
        hits.append(
            f'<div class="hit{" correct" if correct else ""}"><span>#{position}</span>{_strip_img(video_id, strips)}'
            f'<span class="meta">{_esc(video_id)}{"" if score is None else f"<br>score {score:.4f}"}</span>'
            f"{mark}</div>"
        )
    if query.video_id not in {v for v, _ in query.top}:
        hits.append(
            f'<div class="hit correct"><span>#{query.rank:g}</span>{_strip_img(query.video_id, strips)}'
            f'<span class="meta">{_esc(query.video_id)}</span>'
            f'<span class="mark">&#10004; correct (rank {query.rank:g})</span></div>'
        )
    return (f'<div class="query"><div class="caption">&ldquo;{_esc(query.caption)}&rdquo;</div>'
            f'<div class="meta">{_esc(query.caption_id)} &middot; correct video {_esc(query.video_id)} '
            f"&middot; rank {query.rank:g}</div>{''.join(hits)}</div>")


def render_report(
    metrics: Mapping[str, Any],
    queries: Sequence[ReportQuery],
    strips: Mapping[str, bytes],
    plots: Mapping[str, bytes] | None = None,
    info: Mapping[str, Any] | None = None,
    pairs: Mapping[str, Any] | None = None,
    comparison: Sequence[Mapping[str, Any]] = (),
    title: str = "tvrkit evaluation",
) -> str:
    """The report page as a string (pure).

    ``metrics`` is the metrics.json document; ``strips`` maps a video id to a JPEG frame
    strip; ``plots`` maps a caption to PNG bytes; ``info`` is shown as a key/value table
    (checkpoint, split, timings); ``pairs`` is this run's order-pair result and
    ``comparison`` other runs' (each with ``run`` and ``head`` names).
    """
    body = [f"<h1>{_esc(title)}</h1>", _flags(metrics),
            f'<p class="meta">{_esc(metrics.get("n_texts", "?"))} texts &times; '
            f'{_esc(metrics.get("n_videos", "?"))} videos, split {_esc(metrics.get("split", "?"))}</p>',
            "<h2>Metrics</h2>", _metrics_table(metrics)]
    if info:
        body += ["<h2>Run</h2>", _info_table(info)]
    for caption, png in (plots or {}).items():
        body.append(f'<h2>{_esc(caption)}</h2><img alt="{_esc(caption)}" src="{data_uri(png, "image/png")}">')
    body.append(_pairs_section(pairs, comparison))
    if queries:
        body.append("<h2>Sample queries (text &rarr; video, top 5)</h2>")
        body += [_query_block(q, strips) for q in queries]
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n")


def write_report(path: str | os.PathLike[str], *args: Any, **kwargs: Any) -> None:
    """Render (see :func:`render_report`) and write ``path`` atomically."""
    write_text_atomic(path, render_report(*args, **kwargs))


def sample_queries(n_queries: int, ranks: Sequence[int], count: int, seed: int = 0) -> list[int]:
    """Indices of ``count`` queries to show: about half misses and half hits (rank 1), so the
    page shows failures as well as successes; drawn with a fixed seed so reports reproduce."""
    import random

    rng = random.Random(seed)
    hits = [i for i in range(n_queries) if ranks[i] == 1]
    misses = [i for i in range(n_queries) if ranks[i] != 1]
    rng.shuffle(hits)
    rng.shuffle(misses)
    take_miss = min(len(misses), max(count - len(hits), count // 2))
    chosen = misses[:take_miss] + hits[: count - take_miss]
    return sorted(chosen)
