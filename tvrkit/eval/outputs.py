"""Write an evaluation's report files: ``metrics.json`` (validated against
``schemas/metrics.schema.json``), ``metrics.md`` (the papers' table layout),
``ranks.parquet`` (per query: ranks, tie counts and top-10 ids) and PNG plots.

Every file is written under a temporary name and renamed into place, so a report
directory never holds a half-written file. Plots draw on matplotlib's Agg canvas
directly, without pyplot's global state.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tvrkit.errors import ConfigError, StageError
from tvrkit.fsutil import atomic_path, write_json_atomic, write_text_atomic
from tvrkit.retrieval.metrics import TOP_IDS, DirectionRanks, RankCounts, check_ties, hit_probability, ranks, summarize

DIRECTIONS: dict[str, str] = {"t2v": "Text→Video", "v2t": "Video→Text"}
PAPER_KEYS: tuple[str, ...] = ("R@1", "R@5", "R@10", "MdR", "MnR")



def metrics_document(
    directions: Mapping[str, DirectionRanks],
    *,
    ties: str,
    n_texts: int,
    n_videos: int,
    post: str = "none",
    post_params: Mapping[str, Any] | None = None,
    querybank: Mapping[str, dict[str, Any] | None] | None = None,
    missing_videos: int = 0,
    split: str | None = None,
    checkpoint: str | None = None,
    protocol: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The metrics.json document. ``querybank`` maps each direction to the record of the bank
    its post-processing used (None: not post-processed); ``transductive`` is true when any
    of them was the evaluated queries. ``protocol`` adds producer details (v2t mode, counts)."""
    banks = {name: (querybank or {}).get(name) for name in DIRECTIONS}
    doc: dict[str, Any] = {name: summarize(directions[name].counts, ties) for name in DIRECTIONS}
    doc.update(
        n_texts=int(n_texts),
        n_videos=int(n_videos),
        post=post,
        ties=check_ties(ties),
        transductive=any(bank is not None and bank["transductive"] for bank in banks.values()),
        missing_videos=int(missing_videos),
        split=split,
        checkpoint=checkpoint,
        protocol={"post_params": dict(post_params or {}), "querybank": banks, **(protocol or {})},
    )
    return doc


def validate_metrics(doc: dict[str, Any]) -> None:
    """Check ``doc`` against ``schemas/metrics.schema.json`` (a mismatch is a producer bug: exit 1)."""
    from tvrkit.config import validate_document

    try:
        validate_document(doc, "metrics")
    except ConfigError as exc:
        raise StageError(str(exc)) from exc


def write_metrics_json(out_dir: str | os.PathLike[str], doc: dict[str, Any]) -> Path:
    """Validate ``doc`` against the metrics schema and write ``out_dir/metrics.json``."""
    validate_metrics(doc)
    path = Path(out_dir) / "metrics.json"
    write_json_atomic(path, doc)
    return path


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def render_metrics_md(doc: dict[str, Any]) -> str:
    """metrics.md: what was evaluated, then R@1 R@5 R@10 MdR MnR per direction as papers print them."""
    protocol = doc.get("protocol", {})
    params = ", ".join(f"{k}={v}" for k, v in sorted(protocol.get("post_params", {}).items()))
    banks = protocol.get("querybank") or {}
    bank_text = "; ".join(
        f"{title}: {banks[d]['source']} ({banks[d]['size']} queries)" if banks.get(d) else f"{title}: not applied"
        for d, title in DIRECTIONS.items()
    )
    facts = [
        ("split", doc["split"] or "-"),
        ("checkpoint", doc["checkpoint"] or "-"),
        ("texts", doc["n_texts"]),
        ("videos", doc["n_videos"]),
        ("ties", doc["ties"]),
        ("post-processing", doc["post"] + (f" ({params})" if params else "")),
        ("querybank", bank_text if doc["post"] != "none" else "-"),
        ("missing videos (ranked last)", doc["missing_videos"]),
    ]
    if "v2t_mode" in protocol:
        facts.append(("video→text protocol", protocol["v2t_mode"]))
    lines = ["# Retrieval metrics", ""]
    lines += [f"- {name}: {value}" for name, value in facts]
    if doc["transductive"]:
        lines += [
            "",
            "> **Transductive**: post-processing used the evaluated queries themselves as its querybank; "
            "these numbers are not comparable with results that do not.",
        ]
    arrows = {"MdR": "↓", "MnR": "↓"}
    header = " | ".join(f"{k} {arrows.get(k, '↑')}" for k in PAPER_KEYS)
    lines += ["", f"| Direction | {header} |", "|---|" + "---:|" * len(PAPER_KEYS)]
    for name, title in DIRECTIONS.items():
        lines.append(f"| {title} | " + " | ".join(_fmt(doc[name][k]) for k in PAPER_KEYS) + " |")
    row = " | ".join(_fmt(doc[name][k]) for name in DIRECTIONS for k in PAPER_KEYS)
    lines += [
        "",
        "One-line paper row (text→video R@1 R@5 R@10 MdR MnR, then video→text):",
        "",
        f"| {row} |",
        "",
        "R@50: " + ", ".join(f"{DIRECTIONS[d]} {_fmt(doc[d]['R@50'])}" for d in DIRECTIONS),
        "",
    ]
    return "\n".join(lines + _coarse_to_fine_md(protocol.get("coarse_to_fine")))


def _coarse_to_fine_md(c2f: dict[str, Any] | None) -> list[str]:
    """The global level's own ranking and each pass's time, when ``tvrkit eval`` ranked coarse-to-fine."""
    if not c2f:
        return []
    k = c2f.get("k") or {}
    lines = ["## Coarse-to-fine", "",
             f"Global level ranks the whole gallery; fine levels ({', '.join(c2f['fine_levels']) or 'none'}) "
             "re-score each query's top K. The table above is the final ranking; the global level alone:", "",
             "| Direction | K | " + " | ".join(PAPER_KEYS) + " | global s | fine s |",
             "|---|---:|" + "---:|" * (len(PAPER_KEYS) + 2)]
    for name, title in DIRECTIONS.items():
        row, secs = c2f["global_ranking"][name], c2f["seconds"][name]
        fine = "-" if secs["fine"] is None else f"{secs['fine']:.2f}"
        lines.append(f"| {title} | {k.get(name, '-')} | " + " | ".join(_fmt(row[m]) for m in PAPER_KEYS)
                     + f" | {secs['global']:.2f} | {fine} |")
    return lines + [""]


def write_metrics_md(out_dir: str | os.PathLike[str], doc: dict[str, Any]) -> Path:
    path = Path(out_dir) / "metrics.md"
    write_text_atomic(path, render_metrics_md(doc))
    return path


def _rank_columns(d: DirectionRanks, ties: str) -> dict[str, list[Any]]:
    c = d.counts
    return {
        "direction": [d.direction] * len(c),
        "query_id": [str(q) for q in d.query_ids],
        "target_id": [str(t) for t in d.target_ids],
        "rank": ranks(c, ties).tolist(),
        "rank_optimistic": ranks(c, "optimistic").astype(np.int64).tolist(),
        "rank_pessimistic": ranks(c, "pessimistic").astype(np.int64).tolist(),
        "greater": c.greater.tolist(),
        "equal": c.equal.tolist(),
        "correct_tied": c.correct_tied.tolist(),
        "top10": [[str(i) for i in top[:TOP_IDS]] for top in d.top_ids],
    }


def write_ranks_parquet(out_dir: str | os.PathLike[str], directions: Sequence[DirectionRanks], ties: str) -> Path:
    """ranks.parquet: one row per (direction, query) with its rank under ``ties``, the
    optimistic/pessimistic bounds, the raw tie counts and the top-10 gallery ids."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    string, count = pa.string(), pa.int64()
    schema = pa.schema(
        [("direction", string), ("query_id", string), ("target_id", string), ("rank", pa.float64()),
         ("rank_optimistic", count), ("rank_pessimistic", count), ("greater", count), ("equal", count),
         ("correct_tied", count), ("top10", pa.list_(string))]
    )  # fmt: skip
    parts = [_rank_columns(d, ties) for d in directions]
    table = pa.table({name: [v for part in parts for v in part[name]] for name in schema.names}, schema=schema)
    path = Path(out_dir) / "ranks.parquet"
    with atomic_path(path, suffix=".parquet") as tmp:
        pq.write_table(table, tmp)
    return path


def recall_curve(counts: RankCounts, n_gallery: int, ties: str, points: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """(K, R@K in percent) on a log-spaced grid of K from 1 to ``n_gallery``."""
    ks = np.unique(np.geomspace(1, max(n_gallery, 1), points).round().astype(np.int64))
    return ks, np.array([100.0 * hit_probability(counts, int(k), ties).mean() for k in ks])


def _save_png(fig: Any, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    return path


def write_plots(out_dir: str | os.PathLike[str], directions: Sequence[DirectionRanks], ties: str) -> list[Path]:
    """recall_at_k.png (R@K against K, log K) and rank_histogram.png (ranks, log bins)."""
    from matplotlib.figure import Figure

    out = Path(out_dir)
    curve = Figure(figsize=(6, 4), layout="constrained")
    ax = curve.add_subplot()
    for d in directions:
        ks, recall = recall_curve(d.counts, d.n_gallery, ties)
        ax.plot(ks, recall, label=f"{DIRECTIONS.get(d.direction, d.direction)} (gallery {d.n_gallery})")
    ax.set(xscale="log", xlabel="K", ylabel="R@K (%)", ylim=(0, 100), title=f"Recall@K (ties: {ties})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    hist = Figure(figsize=(6, 4), layout="constrained")
    ax = hist.add_subplot()
    top = max((d.n_gallery for d in directions), default=1)
    bins = np.unique(np.geomspace(1, top + 1, 40).round()) + 0.5  # integer ranks sit inside bins
    bins = np.concatenate([[0.5], bins])
    for d in directions:
        ax.hist(ranks(d.counts, ties), bins=bins, histtype="step", label=DIRECTIONS.get(d.direction, d.direction))
    ax.set(xscale="log", xlabel="rank of the correct item", ylabel="queries", title=f"Rank histogram (ties: {ties})")
    ax.legend()
    return [_save_png(curve, out / "recall_at_k.png"), _save_png(hist, out / "rank_histogram.png")]


def write_reports(
    out_dir: str | os.PathLike[str], doc: dict[str, Any], directions: Sequence[DirectionRanks], plots: bool = True
) -> list[Path]:
    """Write every report file; metrics.json last, so its presence means the rest is complete."""
    validate_metrics(doc)
    written = [write_ranks_parquet(out_dir, directions, doc["ties"])]
    if plots:
        written += write_plots(out_dir, directions, doc["ties"])
    written.append(write_metrics_md(out_dir, doc))
    written.append(write_metrics_json(out_dir, doc))
    return written
