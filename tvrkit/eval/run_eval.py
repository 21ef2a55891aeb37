"""The ``tvrkit eval`` stage: a checkpoint and a split in, metrics and a report out.

Texts and videos are encoded once (all ranks under torchrun, cached), then rank 0 ranks
both directions. Without post-processing the ranking streams: the global level over the
whole gallery, the fine levels on each query's top K (coarse-to-fine), both rankings and
their times recorded. Post-processing (DSL, SK-norm, QB-Norm) works on the full score
matrix, so that path scores every pair, saves ``sim.npy`` and hands it to ``tvrkit
metrics``' protocol, with the training captions as querybank unless told otherwise.
Missing videos stop the run (named) unless ``allow_missing`` ranks them last.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from tvrkit.config import save_resolved
from tvrkit.errors import ConfigError, DataError
from tvrkit.eval.config import EvalConfig, MetricsConfig, check_eval_config
from tvrkit.locks import output_lock
from tvrkit.retrieval.model_source import load_model, model_identity

log = logging.getLogger(__name__)


def run_eval(cfg: EvalConfig) -> dict[str, Any]:
    """Evaluate ``cfg.checkpoint`` on ``cfg.eval_split`` and write the outputs to ``cfg.out``;
    returns the metrics.json document (an empty dict on ranks other than 0). Rank 0, which
    writes, holds ``cfg.out``'s write lock: an unwritable ``--out`` is reported before any
    embedding, and a second evaluation into it exits at once."""
    with output_lock(cfg.out, "eval") if os.environ.get("RANK", "0") == "0" else contextlib.nullcontext():
        return _run_eval(cfg)


def _run_eval(cfg: EvalConfig) -> dict[str, Any]:
    from tvrkit import dist
    from tvrkit.data.streaming import resolve_root

    check_eval_config(cfg)
    cfg = dataclasses.replace(cfg, data=resolve_root(cfg.data))  # a URL root: its local mirror
    started = time.perf_counter()
    info = dist.init_distributed()
    try:
        model = load_model(cfg.model_source, info.device)
        embedded = embed(cfg, model, info.device, cfg.eval_split)
        bank = None
        if cfg.post != "none" and not cfg.transductive:
            bank = embed(cfg, model, info.device, cfg.querybank_split or cfg.data.train_split, texts_only=True)
        if not dist.is_main():
            return {}
        return _evaluate(cfg, model, embedded, bank, info.device, started)
    finally:
        dist.cleanup()


def embed(cfg: EvalConfig, model: Any, device: Any, split: str, texts_only: bool = False) -> Any:
    """:func:`tvrkit.retrieval.embed.embed_split` with the config's cache settings (collective)."""
    from tvrkit.retrieval.embed import embed_split

    return embed_split(model, cfg.data, split, checkpoint_sha=model_identity(cfg.model_source),
                       cache_dir=cfg.cache_dir or str(Path(cfg.data.root) / "features"),
                       image_size=cfg.data.image_size or model.image_size, device=device, dtype=cfg.feature_dtype,
                       use_cache=cfg.cache, texts_only=texts_only)


def _evaluate(cfg: EvalConfig, model: Any, embedded: Any, bank: Any, device: Any, started: float) -> dict[str, Any]:
    from tvrkit.eval.outputs import metrics_document, write_metrics_json, write_reports
    from tvrkit.retrieval.scorer import fine_needed, model_scorer, rank_t2v, rank_v2t
    from tvrkit.runlog import write_summary

    missing = embedded.missing_video_ids
    if missing and not cfg.allow_missing:
        named = ", ".join(missing[:20]) + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
        raise DataError(f"split {cfg.eval_split!r}: {len(missing)} videos could not be embedded: {named}; "
                        "--allow-missing ranks them last (and records the count)")
    out = Path(cfg.out)
    scorers = {d: model_scorer(model, embedded, embedded, d, device, cfg.score_block) for d in ("t2v", "v2t")}
    pairs = _order_pairs(cfg, embedded, scorers["t2v"])
    protocol: dict[str, Any] = {"embed_seconds": embedded.seconds, "features_cached": embedded.cached}
    if cfg.post == "none":
        fine = fine_needed(model)
        k = rerank_k(cfg, model)
        t2v = rank_t2v(embedded, scorers["t2v"] if fine else None, k, cfg.rerank_pairs)
        v2t = rank_v2t(embedded, scorers["v2t"] if fine else None, k, cfg.rerank_pairs)
        protocol.update(_coarse_fine_protocol(cfg, model, fine, t2v, v2t), v2t_mode="group",
                        missing_video_ids=list(missing))
        doc = metrics_document({"t2v": t2v.ranks, "v2t": v2t.ranks}, ties=cfg.ties, n_texts=len(embedded.caption_ids),
                               n_videos=len(embedded.split_video_ids), missing_videos=len(missing),
                               split=cfg.eval_split, checkpoint=cfg.checkpoint, protocol=protocol)
        if pairs is not None:
            doc["order_pairs"] = pairs
        write_reports(out, doc, [t2v.ranks, v2t.ranks], plots=cfg.plots)
        scores = dict(zip(embedded.caption_ids, t2v.top_scores, strict=True))
    else:
        doc = _dense_metrics(cfg, model, embedded, bank, scorers["t2v"], device)
        doc["protocol"].update(protocol)
        if pairs is not None:
            doc["order_pairs"] = pairs
        write_metrics_json(out, doc)
        scores = None
    if cfg.report.enabled:
        _write_report(cfg, model, doc, embedded, scores)
    save_resolved(cfg, out)
    seconds = time.perf_counter() - started
    write_summary(out / "summary.json", {"stage": "eval", "ok": len(embedded.caption_ids), "skipped": 0,
                                         "failed": len(missing), "seconds": seconds})
    log.info("eval %s: t2v R@1 %.1f, v2t R@1 %.1f (%.1f s) -> %s", cfg.eval_split, doc["t2v"]["R@1"],
             doc["v2t"]["R@1"], seconds, out)
    return doc


def rerank_k(cfg: EvalConfig, model: Any) -> int | None:
    """The K fine levels re-rank: the config's ``rerank_topk``, else the method's own default (EERCF's
    official 50), else None (the fine levels score the whole gallery)."""
    return cfg.rerank_topk if cfg.rerank_topk is not None else getattr(model, "default_rerank_k", None)


def _coarse_fine_protocol(cfg: EvalConfig, model: Any, fine: bool, t2v: Any, v2t: Any) -> dict[str, Any]:
    """What metrics.json says about the two rankings: the global level alone and the final one."""
    from tvrkit.retrieval.metrics import summarize

    levels = list(model.levels)
    return {"coarse_to_fine": {
        "coarse_level": model.coarse_level,
        "fine_levels": levels if fine else [],
        "k": {"t2v": t2v.k, "v2t": v2t.k} if fine else None,
        "global_ranking": {name: summarize(r.coarse_counts, cfg.ties) for name, r in (("t2v", t2v), ("v2t", v2t))},
        "seconds": {"t2v": {"global": t2v.coarse_seconds, "fine": t2v.fine_seconds},
                    "v2t": {"global": v2t.coarse_seconds, "fine": v2t.fine_seconds}},
    }}


def _dense_metrics(cfg: EvalConfig, model: Any, embedded: Any, bank: Any, scorer: Any, device: Any) -> dict[str, Any]:
    """Full (texts x videos) scores and the querybank's, evaluated by ``tvrkit metrics``' protocol."""
    from tvrkit.eval.outputs import write_metrics_md
    from tvrkit.eval.run_metrics import run_metrics
    from tvrkit.retrieval.level_post import dense_level_post, level_spec, record_level_post
    from tvrkit.retrieval.scorer import dense_t2v, fine_needed, model_scorer

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    fine = fine_needed(model)
    t0 = time.perf_counter()
    split_index = {v: i for i, v in enumerate(embedded.split_video_ids)}
    (out / "sim_map.json").write_text(json.dumps([split_index[v] for v in embedded.caption_video_ids]))
    spec = level_spec(model, cfg.post)
    bank_path, sim_path, levels = None, out / "sim.npy", None
    if spec is not None:  # the method normalises each level with its own bank (UCoFiA's SK-norm)
        levels = dense_level_post(model, embedded, bank, scorer, device, spec, out, post=cfg.post,
                                  params=cfg.chosen_post_params(), transductive=cfg.transductive,
                                  bank_split=cfg.querybank_split or cfg.data.train_split, score_block=cfg.score_block)
        sim_path = out / "sim_post.npy"
    else:
        np.save(sim_path, dense_t2v(embedded, scorer if fine else None))
        if bank is not None:
            bank_scorer = model_scorer(model, bank, embedded, "t2v", device, cfg.score_block) if fine else None
            bank_path = str(out / "bank_sim.npy")
            np.save(bank_path, dense_t2v(embedded, bank_scorer, texts=bank))
    score_seconds = time.perf_counter() - t0
    doc = run_metrics(MetricsConfig(sim=str(sim_path), out=str(out), map=str(out / "sim_map.json"),
                                    post=cfg.post if spec is None else "none", bank_sim=bank_path,
                                    transductive=cfg.transductive and spec is None, ties=cfg.ties,
                                    allow_missing=cfg.allow_missing, split=cfg.eval_split, checkpoint=cfg.checkpoint,
                                    plots=cfg.plots, **dataclasses.asdict(cfg.post_params)))
    if levels is not None:
        record_level_post(doc, levels)
        write_metrics_md(out, doc)
    _relabel_ranks(out, embedded)
    doc["protocol"]["dense_scoring_seconds"] = score_seconds
    doc["protocol"]["missing_video_ids"] = list(embedded.missing_video_ids)
    return doc


def _relabel_ranks(out: Path, embedded: Any) -> None:
    """``tvrkit metrics`` names rows and columns by index; put the caption and video ids in
    (video->text in the group protocol names videos throughout: queries and caption groups)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tvrkit.fsutil import atomic_path

    table = pq.read_table(out / "ranks.parquet")
    texts, videos = embedded.caption_ids, embedded.split_video_ids
    is_t2v = [d == "t2v" for d in table.column("direction").to_pylist()]
    queries = table.column("query_id").to_pylist()
    cols = {
        "query_id": [texts[int(q)] if t else videos[int(q)] for q, t in zip(queries, is_t2v, strict=True)],
        "target_id": [videos[int(v)] for v in table.column("target_id").to_pylist()],
        "top10": [[videos[int(i)] for i in row] for row in table.column("top10").to_pylist()],
    }
    for name, values in cols.items():
        column = pa.array(values, table.schema.field(name).type)
        table = table.set_column(table.schema.get_field_index(name), name, column)
    with atomic_path(out / "ranks.parquet", suffix=".parquet") as tmp:
        pq.write_table(table, tmp)


def _order_pairs(cfg: EvalConfig, embedded: Any, scorer: Any) -> dict[str, Any] | None:
    from tvrkit.eval.pairs import load_order_pairs, pair_queries, score_order_pairs
    from tvrkit.retrieval.coarse_fine import union_scores

    if cfg.order_pairs is None:
        return None
    source = Path(cfg.data.root) if cfg.order_pairs == "auto" else Path(cfg.order_pairs)
    if cfg.order_pairs != "auto" and not source.is_file():
        raise ConfigError(f"order_pairs: file not found: {source}")
    pairs = load_order_pairs(source)
    if not pairs:
        return None
    queries = pair_queries(pairs, embedded.caption_video_ids, embedded.video_ids)
    from tvrkit.models import method_facts

    return score_order_pairs(queries, lambda q, c: union_scores(scorer, q, c), head=method_facts(cfg.model).temporal)


def _write_report(cfg: EvalConfig, model: Any, doc: dict[str, Any], embedded: Any,
                  scores: dict[str, list[float]] | None) -> None:
    import pyarrow.parquet as pq

    from tvrkit.eval.pairs import compare_runs
    from tvrkit.eval.report import ReportQuery, sample_queries, write_report
    from tvrkit.retrieval.strips import make_strips
    from tvrkit.train.curves import run_curves

    out = Path(cfg.out)
    rows = [r for r in pq.read_table(out / "ranks.parquet").to_pylist() if r["direction"] == "t2v"]
    caption = dict(zip(embedded.caption_ids, embedded.captions, strict=True))
    picked = sample_queries(len(rows), [r["rank"] for r in rows], cfg.report.samples, cfg.report.seed)
    queries = []
    for i in picked:
        r = rows[i]
        vals = (scores or {}).get(r["query_id"]) or [None] * len(r["top10"])
        queries.append(ReportQuery(r["query_id"], caption[r["query_id"]], r["target_id"], r["rank"],
                                   tuple(zip(r["top10"][:5], vals[:5], strict=True))))
    shown = [v for q in queries for v in [q.video_id, *(vid for vid, _ in q.top)]]
    strips = make_strips(cfg.data.root, shown, cfg.report.sources, cfg.report.frames, cfg.report.strip_height,
                         split=cfg.eval_split, fmt=cfg.data.format)
    plots = {title: (out / name).read_bytes() for title, name in
             (("Recall@K", "recall_at_k.png"), ("Rank histogram", "rank_histogram.png")) if (out / name).exists()}
    curves = run_curves(cfg.checkpoint) if cfg.checkpoint else None
    if curves is not None:
        plots["Training curves of the checkpoint's run"] = curves.read_bytes()
    from tvrkit.models.methods import method_spec

    protocol = doc.get("protocol", {})
    info: dict[str, Any] = {"checkpoint": cfg.checkpoint, "data root": cfg.data.root,
                            "method": method_spec(cfg.model.method).description,
                            "levels": "; ".join(f"{level.name}: {level.meaning}" for level in model.facts.levels),
                            "temporal module": model.facts.temporal, "coarse score": model.facts.coarse_level,
                            "embedding seconds": protocol.get("embed_seconds")}
    if model.facts.frames is not None:
        info["frames per video (the method's learned matrices)"] = model.facts.frames
    c2f = protocol.get("coarse_to_fine")
    if c2f:
        for direction in ("t2v", "v2t"):
            glob = c2f["global_ranking"][direction]
            info[f"{direction} global level only"] = ", ".join(f"{k} {glob[k]:.1f}" for k in ("R@1", "R@5", "R@10"))
            secs = c2f["seconds"][direction]
            fine = "-" if secs["fine"] is None else f"{secs['fine']:.2f} s (K = {c2f['k'][direction]})"
            info[f"{direction} time: global / fine"] = f"{secs['global']:.2f} s / {fine}"
    write_report(out / "report.html", doc, queries, strips, plots=plots, info=info, pairs=doc.get("order_pairs"),
                 comparison=compare_runs(cfg.compare), title=f"tvrkit evaluation: {cfg.eval_split}")
