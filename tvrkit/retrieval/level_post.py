"""Per-level post-processing for ``tvrkit eval --post``: methods whose official evaluation
normalises each partial score with its own querybank bias before combining them (UCoFiA's SK-norm:
``eval_t2v/main_ucofia.py`` adds a Sinkhorn bias per level, then averages the three levels).

A method opts in with ``postprocess_levels(post) -> spec | None``; the spec names the levels, the
weights of their sum (``weights``), how each level is scaled (``levels``, recorded) and how they are
combined (``combine``, recorded). Text->video is normalised this way; video->text ranks the same
matrix, in which a per-video bias is a constant of every video query's row, so its ranking is the
unprocessed one (recorded as not post-processed, as ``tvrkit metrics`` does without a video bank).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tvrkit.retrieval.postprocess import apply_levels_postprocess


def level_spec(model: Any, post: str) -> dict[str, Any] | None:
    """The method's per-level recipe for ``post``, or None (post-process ``total`` as one matrix)."""
    hook = getattr(model, "postprocess_levels", None)
    return None if post == "none" or hook is None else hook(post)


def dense_level_post(model: Any, embedded: Any, bank: Any, scorer: Any, device: Any, spec: dict[str, Any],
                     out: Path, *, post: str, params: dict[str, Any], transductive: bool, bank_split: str,
                     score_block: int) -> dict[str, Any]:
    """Score every level densely (``sim.npy`` keeps the raw total), normalise each level with its
    querybank scores (``bank``: the captions of ``bank_split``; None: the evaluated queries, which
    needs ``transductive``) by post-processor ``post`` with ``params`` and write the combination to
    ``sim_post.npy``. Returns what metrics.json records: the post-processor, its parameters, the
    text->video querybank and ``post_levels``."""
    from tvrkit.retrieval.scorer import dense_scores, model_scorer

    levels = tuple(spec["weights"])
    sims = dense_scores(embedded, scorer, ("total", *levels))
    np.save(out / "sim.npy", sims.pop("total"))
    banks = None
    source = "evaluated queries (transductive)"
    if bank is not None:
        bank_scorer = model_scorer(model, bank, embedded, "t2v", device, score_block)
        banks = dense_scores(embedded, bank_scorer, levels, texts=bank)
        source = f"split {bank_split} captions"
    keep = ~np.isnan(sims[levels[0]]).all(axis=0)  # missing videos stay all-NaN (ranked last)
    result = apply_levels_postprocess(
        post, {k: v[:, keep] for k, v in sims.items()},
        None if banks is None else {k: v[:, keep] for k, v in banks.items()},
        spec["weights"], transductive=transductive, bank_source=source, **params)
    combined = np.full(sims[levels[0]].shape, np.nan, dtype=np.float64)
    combined[:, keep] = result.sim
    np.save(out / "sim_post.npy", combined)
    return {"post": post, "post_params": params, "querybank": result.querybank,
            "post_levels": {"levels": spec["levels"], "weights": spec["weights"], "combine": spec["combine"],
                            "querybank": result.querybank, "t2v_only": True}}


def record_level_post(doc: dict[str, Any], record: dict[str, Any]) -> None:
    """Mark a metrics document computed from ``sim_post.npy`` as post-processed per level."""
    doc["post"] = record["post"]
    doc["transductive"] = bool(record["querybank"] and record["querybank"]["transductive"])
    doc["protocol"]["post_params"] = record["post_params"]
    doc["protocol"]["querybank"]["t2v"] = record["querybank"]
    doc["protocol"]["post_levels"] = record["post_levels"]
