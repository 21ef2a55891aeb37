"""The vector index of a video library: FAISS over the models' unit global embeddings.

Three kinds, one interface (:class:`VectorIndex`): ``flat`` (exact inner product, the
default: a library of 100k videos is searched exhaustively in milliseconds), ``ivf-pq``
(inverted lists of product-quantised codes, trained on the library itself; 4-bit codes use
FAISS's SIMD "fast scan" layout; then an exact re-scoring of ``refine`` x k candidates, so
the top k comes back in exact order) and ``hnsw`` (a graph over the raw vectors). Inner
product on unit vectors is the model's global score, so the coarse ranking of ``tvrkit
search`` is the one evaluation computes.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from tvrkit.config import option
from tvrkit.fsutil import atomic_path

INDEX_TYPES = ("flat", "ivf-pq", "hnsw")


@dataclasses.dataclass(frozen=True)
class IndexParams:
    """Settings of the approximate kinds (the ``index_params`` section of the index config)."""

    nlist: int | None = option(None, "ivf-pq inverted lists; null = about 4 sqrt(N), at least 39 training vectors "
                               "per list.", minimum=1)
    pq_m: int = option(64, "ivf-pq sub-quantisers per vector (pq_m x pq_bits bits a code); must divide the embedding "
                       "dimension (and be even for 4-bit codes).", minimum=1)
    pq_bits: int = option(4, "ivf-pq bits per sub-quantiser code: 4 (default) uses the SIMD fast-scan layout and "
                          "trains in seconds; 8 encodes finer but trains 2^8 codewords per sub-quantiser.", minimum=1,
                          maximum=12)
    nprobe: int = option(32, "ivf-pq lists visited per query (recall against speed).", minimum=1)
    refine: int = option(50, "ivf-pq: refine x k candidates are re-scored exactly before the top k is returned.",
                         minimum=1)
    train_size: int = option(65536, "ivf-pq: library vectors (seeded sample) the quantisers are trained on.",
                             minimum=1)
    hnsw_m: int = option(32, "hnsw: graph neighbours per node.", minimum=4)
    ef_search: int = option(128, "hnsw: candidate list length per query.", minimum=1)
    seed: int = option(0, "Seed of the training sample.", minimum=0)


def default_nlist(n: int) -> int:
    """Inverted lists for ``n`` vectors: about 4 sqrt(n), with at least 39 training points each."""
    return max(1, min(int(4 * math.sqrt(n)), n // 39))


def _faiss() -> Any:
    import logging

    logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # it logs every CPU variant it tries
    import faiss

    return faiss


class VectorIndex:
    """A FAISS index of unit vectors, searched by inner product; rows are library rows."""

    def __init__(self, kind: str, index: Any, params: IndexParams) -> None:
        if kind not in INDEX_TYPES:
            raise ValueError(f"unknown index type {kind!r}; known: {', '.join(INDEX_TYPES)}")
        self.kind, self.index, self.params = kind, index, params
        self._tune()

    def _tune(self) -> None:
        faiss = _faiss()
        if self.kind == "ivf-pq":
            faiss.extract_index_ivf(self.index).nprobe = self.params.nprobe
            self.index.k_factor = float(self.params.refine)
        elif self.kind == "hnsw":
            self.index.hnsw.efSearch = self.params.ef_search

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(scores [Q, k], rows [Q, k])``, best first; rows past the library's size are -1."""
        q = np.ascontiguousarray(np.asarray(queries, dtype=np.float32).reshape(-1, self.index.d))
        k = max(1, min(k, self.ntotal))
        scores, rows = self.index.search(q, k)
        return scores, rows

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index atomically (a present file is complete)."""
        with atomic_path(path, suffix=".faiss") as tmp:
            _faiss().write_index(self.index, str(tmp))

    @classmethod
    def load(cls, path: str | os.PathLike[str], kind: str, params: IndexParams) -> VectorIndex:
        return cls(kind, _faiss().read_index(str(Path(path))), params)


def build_index(vectors: Any, kind: str = "flat", params: IndexParams | None = None,
                chunk: int = 65536) -> VectorIndex:
    """A ``kind`` index of ``vectors`` ``[N, D]`` (an array or memmap, added ``chunk`` rows at a
    time so a memory-mapped library is never copied whole); approximate kinds are trained
    on a seeded sample of at most ``params.train_size`` rows of the library itself."""
    faiss = _faiss()
    params = params or IndexParams()
    n, dim = vectors.shape
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
    elif kind == "ivf-pq":
        index = ivf_pq_index(vectors, params)
    else:
        raise ValueError(f"unknown index type {kind!r}; known: {', '.join(INDEX_TYPES)}")
    for start in range(0, n, chunk):
        index.add(np.ascontiguousarray(vectors[start:start + chunk], dtype=np.float32))
    return VectorIndex(kind, index, params)


def check_trainable(n: int, params: IndexParams) -> None:
    """Raise ``ValueError`` unless ``n`` vectors can train an ivf-pq index (39 per list and codeword)."""
    nlist = params.nlist or default_nlist(n)
    if n < 39 * nlist or n < 39 * (1 << params.pq_bits):
        raise ValueError(f"an ivf-pq index needs at least 39 vectors per list and codeword: {n} vectors for "
                         f"{nlist} lists of {1 << params.pq_bits} codewords; use the flat index for so small a library")


def ivf_pq_index(vectors: Any, params: IndexParams) -> Any:
    """An empty ivf-pq index (with exact refine) trained on a seeded sample of ``vectors``."""
    faiss = _faiss()
    n, dim = vectors.shape
    if dim % params.pq_m:
        raise ValueError(f"index_params.pq_m: {params.pq_m} must divide the embedding dimension {dim}")
    check_trainable(n, params)
    nlist, bits = params.nlist or default_nlist(n), params.pq_bits
    quantizer = faiss.IndexFlatIP(dim)
    if bits == 4:  # 16 codewords per sub-quantiser: SIMD "fast scan" tables, and quick to train
        ivf = faiss.IndexIVFPQFastScan(quantizer, dim, nlist, params.pq_m, 4, faiss.METRIC_INNER_PRODUCT)
    else:
        ivf = faiss.IndexIVFPQ(quantizer, dim, nlist, params.pq_m, bits, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(params.seed)
    sample = np.sort(rng.choice(n, size=min(n, params.train_size), replace=False))
    ivf.train(np.ascontiguousarray(vectors[sample], dtype=np.float32))
    # exact re-scoring of refine * k candidates: the top k comes back in exact order
    return faiss.IndexRefineFlat(ivf)
