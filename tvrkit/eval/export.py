"""``tvrkit export``: the global text and video embeddings of a split as parquet, for
downstream indexes (FAISS, a vector database, a search service).

It takes the eval config (checkpoint, split, data, cache) and shares eval's feature cache,
so exporting after evaluating encodes nothing again.

Each file holds the ids and one ``embedding`` column (fixed-size list of float32, L2-normalised,
so a dot product is the model's video-sentence score); what produced the vectors (checkpoint
hash, split, dimension) is stored in the parquet schema metadata under ``tvrkit``, so an index
built from the file can say where its vectors came from.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tvrkit.eval.config import EvalConfig, check_eval_config
from tvrkit.fsutil import atomic_path

META_KEY = b"tvrkit"
VIDEOS_FILE = "video_embeddings.parquet"
TEXTS_FILE = "text_embeddings.parquet"


def write_embeddings(
    path: str | os.PathLike[str],
    columns: Mapping[str, Sequence[Any]],
    embeddings: Any,
    metadata: Mapping[str, Any],
) -> None:
    """Write id ``columns`` plus an ``embedding`` column (float32 ``[N, D]``) atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    vectors = np.ascontiguousarray(np.asarray(embeddings, dtype=np.float32))
    if vectors.ndim != 2:
        raise ValueError(f"embeddings must be [N, D], got shape {vectors.shape}")
    for name, values in columns.items():
        if len(values) != len(vectors):
            raise ValueError(f"column {name!r} has {len(values)} rows for {len(vectors)} embeddings")
    dim = vectors.shape[1]
    embedding = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), dim)
    table = pa.table({**{k: pa.array(list(v), pa.string()) for k, v in columns.items()}, "embedding": embedding})
    meta = {"dim": dim, "count": len(vectors), **metadata}
    table = table.replace_schema_metadata({META_KEY: json.dumps(meta, sort_keys=True).encode("utf-8")})
    with atomic_path(path, suffix=".parquet") as tmp:
        pq.write_table(table, tmp)


def read_embeddings(path: str | os.PathLike[str]) -> tuple[dict[str, list[Any]], np.ndarray, dict[str, Any]]:
    """``(id columns, embeddings [N, D] float32, metadata)`` of a file :func:`write_embeddings` wrote."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = json.loads((table.schema.metadata or {}).get(META_KEY, b"{}"))
    column = table.column("embedding").combine_chunks()
    vectors = column.flatten().to_numpy(zero_copy_only=False).reshape(len(table), -1)
    ids = {name: table.column(name).to_pylist() for name in table.column_names if name != "embedding"}
    return ids, vectors.astype(np.float32, copy=False), meta


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """Where the two files went and how many rows each holds."""

    videos: Path
    texts: Path
    n_videos: int
    n_texts: int
    seconds: float


def export_embeddings(out_dir: str | os.PathLike[str], embedded: Any, metadata: Mapping[str, Any]) -> ExportResult:
    """Write ``embedded`` (a :class:`tvrkit.retrieval.embed.Embedded`) as the two parquet files."""
    start = time.perf_counter()
    out = Path(out_dir)
    videos = embedded.global_videos().cpu().numpy()
    texts = embedded.global_texts().cpu().numpy()
    write_embeddings(out / VIDEOS_FILE, {"video_id": embedded.video_ids}, videos, {**metadata, "kind": "video"})
    write_embeddings(
        out / TEXTS_FILE,
        {"caption_id": embedded.caption_ids, "video_id": embedded.caption_video_ids, "caption": embedded.captions},
        texts,
        {**metadata, "kind": "text"},
    )
    return ExportResult(out / VIDEOS_FILE, out / TEXTS_FILE, len(videos), len(texts), time.perf_counter() - start)


def run_export(cfg: EvalConfig) -> dict[str, Any]:
    """Export ``cfg.eval_split``'s embeddings (the same config as ``tvrkit eval``)
    to ``cfg.out``; returns the run summary (an empty dict on ranks other than 0)."""
    from tvrkit import dist
    from tvrkit.eval.run_eval import embed
    from tvrkit.retrieval.model_source import load_model, model_identity
    from tvrkit.runlog import write_summary

    check_eval_config(cfg)
    started = time.perf_counter()
    info = dist.init_distributed()
    try:
        model = load_model(cfg.model_source, info.device)
        embedded = embed(cfg, model, info.device, cfg.eval_split)
        if not dist.is_main():
            return {}
        metadata = {"checkpoint": cfg.checkpoint, "model_sha256": model_identity(cfg.model_source),
                    "split": cfg.eval_split, "arch": cfg.model.backbone.model_name,
                    "method": cfg.model.method, "temporal": model.facts.temporal,
                    "normalized": model.facts.unit_vectors, "score": f"dot product = {model.facts.coarse_level}",
                    "missing_video_ids": list(embedded.missing_video_ids)}
        result = export_embeddings(cfg.out, embedded, metadata)
        summary = {"stage": "export", "ok": result.n_videos + result.n_texts, "skipped": 0,
                   "failed": len(embedded.missing_video_ids), "seconds": time.perf_counter() - started}
        write_summary(Path(cfg.out) / "summary.json", summary)
        return summary
    finally:
        dist.cleanup()
