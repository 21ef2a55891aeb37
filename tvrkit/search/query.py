"""Search an index built by ``tvrkit index``: coarse-to-fine ranking and the best moment.

The query's global vector ranks the library through the FAISS index (the global level,
as evaluation ranks a gallery); when the model scores with fine levels, they re-score
the top ``rerank_topk`` (the same :func:`~tvrkit.retrieval.scorer.model_scorer` eval uses, over
the stored features). The moment of each hit comes from the per-frame scores: the query's
unit vector against each embedded frame's, the peak frame grown over its neighbours that
score at least halfway between the clip's lowest and highest frame.

An index answers only queries embedded by the model it was built with: opening it with
another checkpoint or config (or after its checkpoint file changed) is a :class:`ConfigError`.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from tvrkit.errors import ConfigError, StageError
from tvrkit.search.embed_library import embed_query

MAX_QUERY_CHARS = 1000  # the text tower reads max_words tokens; longer input is a client error
MAX_K = 100
DEFAULT_RERANK_TOPK = 100


class QueryError(ConfigError):
    """A query that cannot be answered as asked (empty, too long, k out of range)."""


@dataclasses.dataclass(frozen=True)
class Moment:
    """Seconds of the best-matching stretch of a clip and of its peak frame."""

    start: float
    end: float
    peak: float


@dataclasses.dataclass(frozen=True)
class Hit:
    """One result: the library video, its final score (fine when re-ranked), the global score, the moment."""

    video_id: str
    name: str  # path relative to the indexed folder
    score: float
    global_score: float
    moment: Moment
    duration: float


@dataclasses.dataclass(frozen=True)
class SearchResult:
    query: str
    hits: list[Hit]
    seconds: float
    reranked: int  # candidates the fine levels re-scored (0: global level only)


def moment_from_scores(scores: np.ndarray, times: list[float], duration: float) -> Moment:
    """The stretch around the best frame whose frames score at least halfway between the clip's
    lowest and highest; each frame covers the time up to the midpoints with its neighbours."""
    n = min(len(scores), len(times))
    if n == 0:
        return Moment(0.0, float(duration), 0.0)
    s = np.asarray(scores[:n], dtype=np.float64)
    best = int(np.argmax(s))
    cut = s.min() + 0.5 * (s.max() - s.min())
    lo = hi = best
    while lo > 0 and s[lo - 1] >= cut:
        lo -= 1
    while hi < n - 1 and s[hi + 1] >= cut:
        hi += 1
    start = 0.0 if lo == 0 else (times[lo - 1] + times[lo]) / 2
    end = float(duration) if hi == n - 1 else (times[hi] + times[hi + 1]) / 2
    return Moment(round(start, 3), round(max(end, start), 3), round(float(times[best]), 3))


def check_query(text: Any, k: Any) -> tuple[str, int]:
    """The query text and k, or a :class:`QueryError` saying what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise QueryError("query: empty; type what the video shows, e.g. 'a dog catches a frisbee'")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"query: {len(text)} characters; at most {MAX_QUERY_CHARS}")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise QueryError(f"k: {k!r} is out of range; 1 <= k <= {MAX_K}")
    return text.strip(), k


class _Videos:
    """Stored features by library row, as :func:`~tvrkit.retrieval.scorer.model_scorer` reads them."""

    def __init__(self, store: Any, text: Any) -> None:
        self.store, self.text = store, text

    def text_features(self, index: Any) -> Any:
        return self.text

    def video_features(self, index: Any) -> Any:
        from tvrkit.models.features import VideoFeatures
        from tvrkit.retrieval.embed import GLOBAL

        return VideoFeatures.from_state(self.store.rows(index, [n for n in self.store.field_names if n != GLOBAL]))


class SearchIndex:
    """An opened index: metadata rows, feature store, FAISS index and the model (see :func:`open_index`)."""

    def __init__(self, path: str | Path, checkpoint: str | None = None, model_config: str | None = None,
                 device: str = "cpu") -> None:
        import torch

        from tvrkit.retrieval.model_source import load_model
        from tvrkit.retrieval.store import FeatureStore
        from tvrkit.search import index as stage
        from tvrkit.search.config import identity, model_source, model_spec
        from tvrkit.search.faiss_index import IndexParams, VectorIndex

        self.path = Path(path)
        if not (self.path / stage.SUMMARY_FILE).exists():
            raise ConfigError(f"{self.path}: not a tvrkit index (no {stage.SUMMARY_FILE}); run `tvrkit index`")
        self.rows, meta = stage.read_table(self.path)
        self.store = FeatureStore(self.path / stage.FEATURES / stage.STORE)
        params = IndexParams(**meta["index_params"])
        self.vectors = VectorIndex.load(self.path / stage.VECTORS_FILE, meta["index_type"], params)
        ids = [r["video_id"] for r in self.rows]
        if ids != self.store.ids or self.vectors.ntotal != len(ids):
            raise StageError(f"{self.path}: index files disagree ({len(ids)} rows, {len(self.store)} stored, "
                             f"{self.vectors.ntotal} vectors): a run was interrupted; re-run `tvrkit index`")
        self.by_id = {r["video_id"]: r for r in self.rows}
        self.row_of = {vid: i for i, vid in enumerate(ids)}
        self.identity = meta["identity"]
        asked = model_spec(checkpoint, model_config) if (checkpoint or model_config) else meta["model"]
        source = model_source(asked)
        theirs = identity(source)
        if theirs != self.identity:
            raise ConfigError(f"{self.path} was built with model {self.identity['model_sha256'][:12]} "
                              f"({_describe(meta['model'])}); this query's model is {theirs['model_sha256'][:12]} "
                              f"({_describe(asked)}) or other frame settings: its embeddings are not comparable. "
                              "Query with the index's model, or rebuild the index with `tvrkit index`")
        self.device = torch.device(device)
        self.max_words = source.data.max_words
        self.model = load_model(source, self.device)
        self._lock = threading.Lock()  # one query at a time through the model (CPU threads are shared anyway)

    def __len__(self) -> int:
        return len(self.rows)

    def clip_path(self, video_id: str) -> Path:
        """The compressed clip of a library video (``KeyError`` for an id not in the index)."""
        from tvrkit.search.index import CLIPS

        return self.path / CLIPS / f"{self.by_id[video_id]['video_id']}.mp4"

    def strip_path(self, video_id: str) -> Path:
        from tvrkit.search.index import STRIPS

        return self.path / STRIPS / f"{self.by_id[video_id]['video_id']}.jpg"

    def search(self, text: str, k: int = 10, rerank_topk: int | None = DEFAULT_RERANK_TOPK) -> SearchResult:
        """The top ``k`` videos for ``text``: global ranking, fine re-ranking of the top
        ``rerank_topk`` (None: the whole library), each with its moment."""
        import torch

        from tvrkit.retrieval.scorer import fine_needed, model_scorer

        text, k = check_query(text, k)
        if rerank_topk is not None and (isinstance(rerank_topk, bool) or rerank_topk < 1):
            raise QueryError(f"rerank_topk: {rerank_topk!r}; must be at least 1 (or null: the whole library)")
        started = time.perf_counter()
        with self._lock:
            feats = embed_query(self.model, [text], self.max_words, self.device)
            query = self.model.global_embeddings(feats).float().cpu()
            fine = fine_needed(self.model)
            depth = max(k, (rerank_topk or len(self)) if fine else k)
            global_scores, rows = self.vectors.search(query.numpy(), depth)
            keep = rows[0] >= 0
            rows, global_scores = rows[0][keep], global_scores[0][keep]
            scores = global_scores
            if fine:
                scorer = model_scorer(self.model, _Videos(self.store, feats), _Videos(self.store, feats), "t2v",
                                      self.device)
                scores = scorer(torch.zeros(1, dtype=torch.int64), torch.from_numpy(rows))["total"][0].numpy()
                order = np.argsort(-scores, kind="stable")
                rows, scores, global_scores = rows[order], scores[order], global_scores[order]
            hits = [self._hit(int(r), float(s), float(g), query[0].numpy()) for r, s, g in
                    zip(rows[:k], scores[:k], global_scores[:k], strict=True)]
        return SearchResult(text, hits, time.perf_counter() - started, len(rows) if fine else 0)

    def locate(self, text: str, video_id: str) -> Moment:
        """The moment of library video ``video_id`` that best matches ``text`` (wherever it ranks)."""
        text, _ = check_query(text, 1)
        row = self.row_of[video_id]
        with self._lock:
            query = self.model.global_embeddings(embed_query(self.model, [text], self.max_words, self.device))
        return self._hit(row, 0.0, 0.0, query.float().cpu()[0].numpy()).moment

    def _hit(self, row: int, score: float, global_score: float, query: np.ndarray) -> Hit:
        frames = self.store.rows([row], ["frames", "frame_mask"])
        mask = frames["frame_mask"][0].numpy().astype(bool)
        vectors = frames["frames"][0].numpy()[mask]
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        meta = self.rows[row]
        moment = moment_from_scores(vectors @ query, list(meta["frame_times"]), meta["duration"] or 0.0)
        return Hit(meta["video_id"], meta["relpath"], score, global_score, moment, float(meta["duration"] or 0.0))


def _describe(spec: dict[str, Any]) -> str:
    return f"checkpoint {spec['checkpoint']}" if spec.get("checkpoint") else f"untrained {spec.get('model_config')}"
