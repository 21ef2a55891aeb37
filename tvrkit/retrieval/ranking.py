"""Rank a large gallery of embeddings for many queries in blocks: streaming top-k and
exact rank counts of the correct item, in O(Q·(k + block)) memory instead of O(Q·N).

Each gallery block is scored with one matmul (queries x block), merged into a running
top-k, and compared with each query's correct-item score. The correct item may sit in
any block, yet items of earlier blocks must already be compared with its score. So that
score is first computed in float64 from the same (rounded) inputs, together with a
rigorous bound on how far the blocked matmul can differ from it:
``|err| <= gamma_n * sum_d |q_d g_d|`` with ``gamma_n = n u / (1 - n u)`` for any
summation order (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., §3.1),
``u`` the unit roundoff of the matmul. Scores above that window are certainly greater;
the few inside it are kept and compared at the end with the correct item's score *as
the matmul produced it*. Counts (greater / exactly equal) are therefore exact for the
scores this computation produces, with no tolerance, and feed the tie policies in
:mod:`tvrkit.retrieval.metrics`.

Missing gallery items (no embedding) are simply absent from the blocks; queries whose
correct item is missing have target ``-1`` and are ranked last among ``n_gallery``.
:func:`rerank_counts` turns coarse counts into those of a coarse-to-fine ranking (EERCF:
the global level ranks everything, fine levels re-score the top K).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from tvrkit.errors import ConfigError, StageError
from tvrkit.retrieval.metrics import RankCounts, with_missing_last

DEFAULT_BLOCK_BYTES = 256 << 20  # score block budget: ~256 MiB of float32 per gallery block
CHUNK = 64  # columns per run whose maximum screens a block for candidates


def block_size_for(n_queries: int, block_bytes: int = DEFAULT_BLOCK_BYTES) -> int:
    """Gallery rows per block so one (queries x block) float32 score matrix fits ``block_bytes``."""
    return max(256, block_bytes // (4 * max(n_queries, 1)))


def iter_blocks(gallery: torch.Tensor | np.ndarray, block_size: int) -> Iterator[torch.Tensor]:
    """Consecutive row blocks of ``gallery`` (a tensor, array or ``np.load(..., mmap_mode="r")``)."""
    for start in range(0, gallery.shape[0], block_size):
        block = gallery[start : start + block_size]
        # a copy: memmap blocks are read-only, and torch wants writable memory
        yield block if isinstance(block, torch.Tensor) else torch.from_numpy(np.array(block))


def unit_roundoff(dtype: torch.dtype, device: torch.device) -> float:
    """Unit roundoff of a matmul in ``dtype`` on ``device``, honouring reduced-precision modes
    (TF32 / bf16 for float32) that would otherwise break the error bound."""
    if dtype == torch.float32:
        precision = torch.get_float32_matmul_precision()
        if device.type == "cuda" and torch.backends.cuda.matmul.allow_tf32:
            precision = "high" if precision == "highest" else precision
        return {"highest": 2.0**-24, "high": 2.0**-11, "medium": 2.0**-8}[precision]
    return float(torch.finfo(dtype).eps) / 2


@dataclass(frozen=True)
class StreamResult:
    """What one pass over the gallery produced.

    ``top_scores``/``top_indices``: [Q, k] best scores and gallery row indices, best first
    (ties in an unspecified order). ``counts``: rank counts of each query's correct item
    (None without targets). ``target_scores``: the correct item's score as the matmul gave
    it (NaN where missing). ``n_gallery``: gallery size ranks refer to, missing included.
    """

    top_scores: torch.Tensor
    top_indices: torch.Tensor
    counts: RankCounts | None
    target_scores: np.ndarray | None
    n_gallery: int
    seconds: float


class _Window:
    """Per-query score window [lo, hi] around the correct score, and the scores seen in it."""

    def __init__(self, queries: torch.Tensor, targets: torch.Tensor, target_rows: torch.Tensor, u: float) -> None:
        self.targets = targets
        q64, t64 = queries.double().cpu(), target_rows.double().cpu()
        present = targets >= 0
        ref = (q64 * t64).sum(1)
        n = queries.shape[1] + 2  # +2 covers rounding the inputs (TF32/bf16 modes) and the output
        if n * u >= 0.5:
            raise ConfigError(
                f"a matmul with unit roundoff {u:.1e} over {queries.shape[1]} dimensions is too coarse for exact "
                "rank counts; use float32 with torch.set_float32_matmul_precision('highest')"
            )
        tol = (n * u / (1 - n * u)) * (q64.abs() * t64.abs()).sum(1)
        inf = torch.full_like(ref, float("inf"))
        lo, hi = torch.where(present, ref - tol, inf), torch.where(present, ref + tol, inf)
        # round outwards to float32 so the window still contains every admissible score
        lo32, hi32 = lo.float(), hi.float()
        self.lo = torch.where(lo32.double() > lo, torch.nextafter(lo32, torch.tensor(-float("inf"))), lo32)
        self.hi = torch.where(hi32.double() < hi, torch.nextafter(hi32, torch.tensor(float("inf"))), hi32)
        self.lo, self.hi = self.lo.to(queries.device), self.hi.to(queries.device)
        self.above = torch.zeros(queries.shape[0], dtype=torch.int64, device=queries.device)
        self.rows: list[torch.Tensor] = []
        self.cols: list[torch.Tensor] = []
        self.vals: list[torch.Tensor] = []

    def update(self, rows: torch.Tensor, cols: torch.Tensor, vals: torch.Tensor) -> None:
        """Take a block's candidate scores (every score >= its row's ``lo`` must be among them,
        lower ones may be too): count those above each window, keep those inside it."""
        above = vals > self.hi[rows]
        self.above += torch.bincount(rows[above], minlength=self.above.shape[0])
        inside = ~above & (vals >= self.lo[rows])
        self.rows.append(rows[inside].cpu())
        self.cols.append(cols[inside].cpu())
        self.vals.append(vals[inside].cpu())

    def finish(self, n_gallery: int, n_seen: int) -> tuple[RankCounts, np.ndarray]:
        n_q = self.targets.shape[0]
        rows = torch.cat(self.rows) if self.rows else torch.zeros(0, dtype=torch.int64)
        cols = torch.cat(self.cols) if self.cols else torch.zeros(0, dtype=torch.int64)
        vals = torch.cat(self.vals) if self.vals else torch.zeros(0)
        targets = self.targets.cpu()
        is_target = cols == targets[rows]
        target_score = torch.full((n_q,), float("nan"))
        target_score[rows[is_target]] = vals[is_target]
        present = targets >= 0
        if (targets >= n_seen).any():
            raise StageError(f"a target index is beyond the {n_seen} gallery rows scored")
        lost = present & torch.isnan(target_score)
        if lost.any():
            raise StageError(  # every input was finite (checked): the product itself is off
                f"{int(lost.sum())} correct-item scores fell outside their error bound: the matmul is "
                "less precise than its dtype says (check TF32/bf16 matmul settings)"
            )
        others, ref = ~is_target, target_score[rows]
        greater = self.above.cpu() + torch.bincount(rows[others & (vals > ref)], minlength=n_q)
        equal = torch.bincount(rows[others & (vals == ref)], minlength=n_q)
        counts = RankCounts.single(greater.numpy(), equal.numpy())
        return with_missing_last(counts, ~present.numpy(), n_gallery), target_score.double().numpy()


class _TopK:
    """A running top-k per query. Until k items are seen each block is merged densely; then
    only the candidates a block offers (scores >= the current k-th best) are merged, so the
    cost per block falls to one comparison once the top-k has settled."""

    def __init__(self, n_queries: int, k: int, device: torch.device) -> None:
        self.k = k
        self.scores = torch.full((n_queries, 0), -float("inf"), device=device)
        self.indices = torch.zeros((n_queries, 0), dtype=torch.int64, device=device)

    @property
    def full(self) -> bool:
        return self.scores.shape[1] == self.k

    def threshold(self) -> torch.Tensor:
        """The k-th best score of each query (only when :attr:`full`)."""
        return self.scores[:, -1]

    def merge_dense(self, scores: torch.Tensor, offset: int) -> None:
        bs, bi = torch.topk(scores, min(self.k, scores.shape[1]), dim=1)
        merged = torch.cat([self.scores, bs], 1)
        self.scores, pick = torch.topk(merged, min(self.k, merged.shape[1]), dim=1)
        self.indices = torch.gather(torch.cat([self.indices, bi + offset], 1), 1, pick)

    def merge_sparse(self, rows: torch.Tensor, cols: torch.Tensor, vals: torch.Tensor) -> None:
        """Merge candidates given as (row, gallery index, score), in any order."""
        keep = (vals >= self.threshold()[rows]).nonzero().squeeze(1)
        if not keep.numel():
            return
        keep = keep[torch.argsort(rows[keep], stable=True)]
        rows, cols, vals = rows[keep], cols[keep], vals[keep]
        touched, counts = torch.unique_consecutive(rows, return_counts=True)
        slot = torch.repeat_interleave(torch.arange(touched.shape[0], device=rows.device), counts)
        starts = torch.cumsum(counts, 0) - counts
        pos = torch.arange(rows.shape[0], device=rows.device) - starts[slot] + self.k
        width = self.k + int(counts.max())
        pad_s = torch.full((touched.shape[0], width), -float("inf"), device=rows.device)
        pad_i = torch.zeros((touched.shape[0], width), dtype=torch.int64, device=rows.device)
        pad_s[:, : self.k], pad_i[:, : self.k] = self.scores[touched], self.indices[touched]
        pad_s[slot, pos], pad_i[slot, pos] = vals, cols
        best, pick = torch.topk(pad_s, self.k, dim=1)
        self.scores[touched], self.indices[touched] = best, torch.gather(pad_i, 1, pick)


def _where(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(rows, cols)`` of the true entries of a 2-d mask, row-major. On CPU through numpy,
    whose SIMD scan is about ten times faster than torch's ``nonzero`` there."""
    if mask.device.type != "cpu":
        return mask.nonzero(as_tuple=True)
    flat = torch.from_numpy(np.flatnonzero(mask.numpy()))
    return flat // mask.shape[1], flat % mask.shape[1]


def _candidates(scores: torch.Tensor, threshold: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(row, column, score)`` of every score >= its row's threshold, in no set order.

    Once the top-k has settled a block holds only a few such scores per row, spread over
    most rows, so the block is read once, as maxima of runs of :data:`CHUNK` columns
    (vectorised, memory-bound; the last, partial run included); only the runs whose
    maximum reaches the threshold are gathered and compared element by element."""
    width = scores.shape[1]
    runs, full = width // CHUNK, width // CHUNK * CHUNK
    chunks = scores[:, :full].unflatten(1, (runs, CHUNK))  # a view: [rows, runs, CHUNK]
    groups = []  # (rows, their gathered values [hits, w], the column of each first value)
    if runs:
        r, run = _where(chunks.amax(2) >= threshold[:, None])
        groups.append((r, chunks[r, run], run * CHUNK))  # whole runs, two short index vectors
    if width > full:
        r = _where((scores[:, full:].amax(1) >= threshold)[:, None])[0]
        groups.append((r, scores[r, full:], torch.full_like(r, full)))
    parts = []
    for r, vals, first in groups:
        hit, j = (vals >= threshold[r, None]).nonzero(as_tuple=True)
        parts.append((r[hit], first[hit] + j, vals[hit, j]))
    rows, cols, vals = (torch.cat(p) for p in zip(*parts, strict=True))
    return rows, cols, vals


def _check_finite(x: torch.Tensor, what: str, offset: int) -> None:
    """A :class:`StageError` naming the rows of ``x`` (``what`` features, first row ``offset``)
    that hold NaN or Inf: such a score ranks nowhere, and the model or the cache is to blame."""
    bad = ~torch.isfinite(x).all(dim=1)
    if bad.any():
        rows = (torch.nonzero(bad).flatten() + offset).tolist()
        raise StageError(f"{len(rows)} {what} feature row(s) hold NaN or Inf (e.g. row {rows[0]}): the model's "
                         "weights or the feature cache are damaged (a diverged checkpoint?); nothing was ranked")


def stream_rank(
    queries: torch.Tensor | np.ndarray,
    gallery: torch.Tensor | np.ndarray | Iterable[torch.Tensor],
    *,
    k: int = 10,
    targets: torch.Tensor | np.ndarray | None = None,
    target_rows: torch.Tensor | np.ndarray | None = None,
    n_gallery: int | None = None,
    block_size: int | None = None,
    device: str | torch.device = "cpu",
    compute_dtype: torch.dtype = torch.float32,
) -> StreamResult:
    """Score ``queries`` [Q, D] against ``gallery`` block by block; keep the top ``k`` and,
    when ``targets`` is given, the exact rank counts of each query's correct row.

    ``gallery`` is a [N, D] tensor/array (memmaps work: only one block is read at a time)
    or an iterable of [n_b, D] blocks in row order (then ``target_rows``, the [Q, D]
    embeddings of the correct rows, must be given). ``targets[i] = -1`` marks a correct item
    that is missing from the gallery: it is ranked last among ``n_gallery`` (default: rows
    scored), which should count the missing items too.

    Per block: one matmul into a reused buffer, then one pass that finds the scores that
    can matter (>= the lower of each query's k-th best and its correct-score window);
    everything else works on those few candidates, so the whole costs little more than the
    matmul itself.
    """
    started = time.perf_counter()
    device = torch.device(device)
    q = torch.as_tensor(queries).to(device=device, dtype=compute_dtype)
    _check_finite(q, "query", 0)
    if block_size is None:
        block_size = block_size_for(q.shape[0])
    array_like = hasattr(gallery, "shape")
    blocks = iter_blocks(gallery, block_size) if array_like else iter(gallery)
    window = None
    if targets is not None:
        t = torch.as_tensor(np.asarray(targets), dtype=torch.int64)
        if target_rows is None:
            if not array_like:
                raise ValueError("target_rows is required when the gallery comes as blocks")
            picked = gallery[np.clip(t.numpy(), 0, None)]
            target_rows = picked if isinstance(picked, torch.Tensor) else torch.from_numpy(np.asarray(picked))
        rows = torch.as_tensor(target_rows).to(compute_dtype)  # the same input rounding as the blocks
        window = _Window(q, t.to(device), rows.to(device), unit_roundoff(compute_dtype, device))
    top = _TopK(q.shape[0], k, device)
    buffer = torch.empty(0, device=device)
    offset = 0
    for block in blocks:
        if not block.shape[0]:
            continue
        g = block.to(device=device, dtype=compute_dtype)
        _check_finite(g, "gallery", offset)  # O(block), against the O(queries x block) product
        if compute_dtype == torch.float32:
            if buffer.shape != (q.shape[0], g.shape[0]):
                buffer = torch.empty((q.shape[0], g.shape[0]), device=device)
            scores = torch.mm(q, g.T, out=buffer)
        else:
            scores = (q @ g.T).float()
        settled = top.full
        if not settled:
            top.merge_dense(scores, offset)
        if settled or window is not None:
            limits = [top.threshold()] if settled else []
            limits += [window.lo] if window is not None else []
            r, c, v = _candidates(scores, limits[0] if len(limits) == 1 else torch.minimum(*limits))
            c += offset
            if window is not None:
                window.update(r, c, v)
            if settled:
                top.merge_sparse(r, c, v)
        offset += scores.shape[1]
    total = offset if n_gallery is None else n_gallery
    counts, target_scores = window.finish(total, offset) if window is not None else (None, None)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return StreamResult(top.scores.cpu(), top.indices.cpu(), counts, target_scores, total,
                        time.perf_counter() - started)


def rerank_counts(
    coarse: RankCounts,
    target_scores: np.ndarray,
    top_scores: np.ndarray,
    top_indices: np.ndarray,
    fine_scores: np.ndarray,
    targets: np.ndarray,
) -> RankCounts:
    """Counts under coarse-to-fine ranking: the coarse top K ([Q, K] ``top_indices`` with
    their coarse ``top_scores``) re-ordered by ``fine_scores`` [Q, K], the rest after them in
    coarse order. A correct item inside the top K is ranked among the K by its fine score;
    one outside keeps its coarse counts, except that coarse ties which made the top K now
    precede it. Missing targets (``-1``) keep their coarse counts (ranked last)."""
    top_scores, top_indices = np.asarray(top_scores), np.asarray(top_indices)
    fine_scores, targets = np.asarray(fine_scores), np.asarray(targets)
    is_target = top_indices == targets[:, None]
    inside = is_target.any(axis=1)
    fine_t = fine_scores[np.arange(len(targets)), is_target.argmax(axis=1)][:, None]
    g_in = (fine_scores > fine_t).sum(axis=1)
    e_in = (fine_scores == fine_t).sum(axis=1) - 1
    # a missing target's score is NaN, which ties with nothing
    tied_in_top = (top_scores == np.asarray(target_scores)[:, None]).sum(axis=1)
    greater = np.where(inside, g_in, coarse.greater + tied_in_top)
    equal = np.where(inside, e_in, coarse.equal - tied_in_top)
    return RankCounts.single(greater, equal)
