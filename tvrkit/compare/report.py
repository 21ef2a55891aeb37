"""The comparison's outputs: ``compare.json`` (rows with per-seed values, means and intervals, paired
differences against the reference), ``compare.md`` (the table), ``compare.png`` and ``compare.html``
(the table and one plot: text->video R@1 with its interval against the cost of a query)."""

from __future__ import annotations

import base64
import html
import statistics
from pathlib import Path
from typing import Any

from tvrkit.compare.config import CompareConfig
from tvrkit.compare.stats import mean_ci, paired_difference
from tvrkit.fsutil import write_json_atomic, write_text_atomic

#: (compare.json key, direction in metrics.json, metric)
METRICS = (("t2v_R@1", "t2v", "R@1"), ("t2v_R@5", "t2v", "R@5"), ("t2v_R@10", "t2v", "R@10"),
           ("t2v_MdR", "t2v", "MdR"), ("v2t_R@1", "v2t", "R@1"))
COSTS = ("train_seconds", "eval_seconds", "peak_rss_mib", "ms_per_query_1k")


def _row(entry: dict[str, Any]) -> dict[str, Any]:
    variant, runs = entry["variant"], entry["runs"]
    row: dict[str, Any] = {"method": variant.method, "variant": variant.name, "recipe": variant.recipe.name,
                           "aligned_to_data": entry["aligned"], "seeds": [r["seed"] for r in runs]}
    for key, direction, metric in METRICS:
        row[key] = mean_ci([float(r["metrics"][direction][metric]) for r in runs])
    for r in runs:
        peaks = [r.get("train_peak_rss_mib"), r.get("eval_peak_rss_mib")]
        r["peak_rss_mib"] = max((p for p in peaks if p is not None), default=None)
    for key in COSTS:
        values = [r[key] for r in runs if r.get(key) is not None]
        row[key] = statistics.fmean(values) if values else None
    row["parameters"] = runs[0]["parameters"]
    return row


def _fmt_ci(cell: dict[str, Any]) -> str:
    lo, hi = cell["ci95"]
    return f"{cell['mean']:.1f} [{lo:.1f}, {hi:.1f}]"


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render_md(doc: dict[str, Any]) -> str:
    """compare.md: the protocol, then one table row per variant."""
    proto = doc["protocol"]
    lines = ["# Methods compared under one protocol", "",
             f"- base config: {proto['base']} {' '.join('--set ' + o for o in proto['overrides'])}".rstrip(),
             f"- seeds: {proto['seeds']} ({proto['paired_seeds']})",
             f"- shared: {', '.join(proto['shared'])}; varied: {'; '.join(proto['varied'])}",
             f"- interval: {proto['interval']}",
             f"- ms/query @1k: {proto['ms_per_query_1k']}", "",
             f"| variant | method | t2v R@1 | t2v R@5 | t2v R@10 | t2v MdR | v2t R@1 | R@1 - {proto['reference']} | "
             "train s | eval s | peak RSS MiB | parameters | ms/query @1k |",
             "|---|---|" + "---:|" * 11]
    for row in doc["rows"]:
        diff = row.get("t2v_R@1_vs_reference")
        diff_text = "-" if diff is None else _fmt_ci(diff) + (" *" if diff["excludes_zero"] else "")
        lines.append(
            f"| {row['variant']} | {row['method']} | " + " | ".join(_fmt_ci(row[k]) for k, _, _ in METRICS)
            + f" | {diff_text} | {_fmt(row['train_seconds'])} | {_fmt(row['eval_seconds'])} | "
            f"{_fmt(row['peak_rss_mib'], 0)} | {row['parameters']:,} | {_fmt(row['ms_per_query_1k'], 3)} |")
    lines += ["", "Intervals are 95 % over seeds; * marks a paired difference whose interval excludes 0."]
    aligned = [f"{r['variant']}: {', '.join(r['aligned_to_data'])}" for r in doc["rows"] if r["aligned_to_data"]]
    if aligned:
        lines += ["", "Method options set to the protocol's data values: " + "; ".join(aligned) + "."]
    if doc["failed"]:
        lines += ["", "Failed runs (not in the table):", *[f"- {f}" for f in doc["failed"]]]
    return "\n".join(lines) + "\n"


def plot(doc: dict[str, Any], path: Path) -> Path | None:
    """compare.png: t2v R@1 (mean and 95 % interval) against ms per query at 1k videos."""
    rows = [r for r in doc["rows"] if r["ms_per_query_1k"] is not None]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for row in rows:
        mean, (lo, hi) = row["t2v_R@1"]["mean"], row["t2v_R@1"]["ci95"]
        ax.errorbar(row["ms_per_query_1k"], mean, yerr=[[mean - lo], [hi - mean]], fmt="o", capsize=4)
        ax.annotate(row["variant"], (row["ms_per_query_1k"], mean), textcoords="offset points", xytext=(6, 4),
                    fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("ms per text query, 1,000-video gallery (log)")
    ax.set_ylabel("text->video R@1 (95 % interval over seeds)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
    return path


def render_html(md_table: str, png: Path | None) -> str:
    """compare.html: the markdown table as preformatted text and the plot inline."""
    image = ""
    if png is not None:
        data = base64.b64encode(png.read_bytes()).decode()
        image = f'<img alt="R@1 against cost per query" src="data:image/png;base64,{data}">'
    return ("<!doctype html><meta charset='utf-8'><title>tvrkit compare</title>"
            "<body style='font-family:sans-serif;max-width:1400px;margin:2em auto'>"
            f"<h1>Methods compared under one protocol</h1>{image}<pre>{html.escape(md_table)}</pre></body>")


def write_reports(cfg: CompareConfig, protocol: dict[str, Any], entries: list[dict[str, Any]],
                  failed: list[str]) -> dict[str, Any]:
    """Write compare.json, compare.md, compare.png and compare.html; return the compare.json document."""
    rows = [_row(e) for e in entries]
    reference = next((e for e in entries if e["variant"].name == cfg.reference), None)
    for row, entry in zip(rows, entries, strict=True):
        if reference is not None and entry is not reference:
            ref = [float(r["metrics"]["t2v"]["R@1"]) for r in reference["runs"]]
            row["t2v_R@1_vs_reference"] = paired_difference(row["t2v_R@1"]["per_seed"], ref)
    doc = {"protocol": protocol, "rows": rows, "failed": failed}
    out = Path(cfg.out)
    write_json_atomic(out / "compare.json", doc)
    md = render_md(doc)
    write_text_atomic(out / "compare.md", md)
    write_text_atomic(out / "compare.html", render_html(md, plot(doc, out / "compare.png")))
    return doc
