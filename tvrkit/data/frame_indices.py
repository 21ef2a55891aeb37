"""Which frames of a video a sample uses: pure functions of (frame count, fps, settings, rng).

First the stored frames are thinned to ``frame_rate`` (CLIP4Clip's ``feature_framerate``:
1 fps from 3 fps = frames 0, 3, 6, ...); that decides how many frames a sample gets,
``min(max_frames, candidates)``. ``uniform`` then takes those candidates, or when there are
too many, CLIP4Clip's ``slice_framepos`` choice of them (head, tail, evenly spaced).
``random`` instead draws one frame from each of that many equal segments of the whole video
(TSN-style), so training sees the in-between frames too.

Four modes reproduce the published recipes' dataloaders index for index (tested against
their code): ``clip4clip`` (CLIP4Clip's OpenCV grid, then ``slice_framepos``; the same in
training and testing), ``xpool`` (X-Pool's ``uniform``: the middle frame of each of
``max_frames`` equal segments of the whole video, no frame-rate grid), ``hmmc`` (30 frames over
the whole clip; training draws ``max_frames`` of them sorted, the test takes them evenly spaced)
and ``eercf`` (EERCF's frame folders: every stored frame, then ``slice_framepos``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np


def candidate_indices(num_frames: int, fps: float, frame_rate: float) -> list[int]:
    """Stored frames on a ``frame_rate`` grid; every frame when ``frame_rate >= fps``."""
    if num_frames <= 0:
        return []
    if frame_rate >= fps:
        return list(range(num_frames))
    step = fps / frame_rate
    return sorted({int(round(k * step)) for k in range(math.ceil(num_frames / step))} & set(range(num_frames)))


def slice_positions(count: int, max_frames: int, mode: str) -> list[int]:
    """Positions (into ``count`` candidates) kept by CLIP4Clip's ``slice_framepos``."""
    if count <= max_frames:
        return list(range(count))
    if mode == "head":
        return list(range(max_frames))
    if mode == "tail":
        return list(range(count - max_frames, count))
    if mode == "uniform":
        return [int(p) for p in np.linspace(0, count - 1, num=max_frames, dtype=int)]
    raise ValueError(f"unknown slice_framepos {mode!r}")


def uniform_frames(num_frames: int, fps: float, max_frames: int, frame_rate: float, slice_framepos: str,
                   rng: np.random.Generator | None = None) -> list[int]:
    """Deterministic frames: the candidates, sliced by ``slice_framepos`` when too many."""
    cands = candidate_indices(num_frames, fps, frame_rate)
    return [cands[p] for p in slice_positions(len(cands), max_frames, slice_framepos)]


def random_frames(num_frames: int, fps: float, max_frames: int, frame_rate: float, slice_framepos: str,
                  rng: np.random.Generator | None = None) -> list[int]:
    """One random frame in each of ``min(max_frames, candidates)`` equal segments, in order."""
    if rng is None:
        raise ValueError("random frame sampling needs an rng")
    count = min(max_frames, len(candidate_indices(num_frames, fps, frame_rate)))
    bounds = [math.floor(i * num_frames / count) for i in range(count + 1)]
    # count <= num_frames, so every segment [bounds[i], bounds[i+1]) holds at least one frame
    return [int(rng.integers(lo, hi)) for lo, hi in itertools.pairwise(bounds)]


def clip4clip_grid(num_frames: int, fps: float, frame_rate: float) -> list[int]:
    """The frames CLIP4Clip's ``RawVideoExtractorCV2`` reads at ``feature_framerate``.

    Its frame rate is the container's truncated to a whole number (``F = int(fps)``); each
    second ``s`` it reads frames ``s * F + o`` for the offsets ``o`` in
    ``range(0, F, max(F // r, 1))[:r]`` (``r = int(frame_rate)``), until the video ends. From
    3 fps at 1 fps that is frames 0, 3, 6, ... (as :func:`candidate_indices`); the two differ
    when the stored rate is not whole or not a multiple of ``frame_rate`` (e.g. 3 fps at 2 fps:
    CLIP4Clip reads 0, 1, 3, 4, 6, ..., :func:`candidate_indices` gives 0, 2, 3, 4, 6, ...).
    CLIP4Clip asserts ``r <= F``; here a faster ``frame_rate`` takes every frame.
    """
    per_second, rate = int(fps), int(frame_rate)
    if per_second < 1 or rate < 1:
        raise ValueError(f"clip4clip sampling needs a stored rate and frame_rate of at least 1 fps, "
                         f"got {fps} and {frame_rate}")
    offsets = list(range(0, per_second, max(per_second // rate, 1)))[:rate]
    seconds = math.ceil(num_frames / per_second) if num_frames > 0 else 0
    return [s * per_second + o for s in range(seconds) for o in offsets if s * per_second + o < num_frames]


def clip4clip_frames(num_frames: int, fps: float, max_frames: int, frame_rate: float, slice_framepos: str,
                     rng: np.random.Generator | None = None) -> list[int]:
    """CLIP4Clip's frames: :func:`clip4clip_grid`, sliced by ``slice_framepos`` when too many."""
    grid = clip4clip_grid(num_frames, fps, frame_rate)
    return [grid[p] for p in slice_positions(len(grid), max_frames, slice_framepos)]


def xpool_frames(num_frames: int, fps: float, max_frames: int, frame_rate: float, slice_framepos: str,
                 rng: np.random.Generator | None = None) -> list[int]:
    """X-Pool's ``uniform`` frames: ``min(max_frames, num_frames)`` equal segments of the whole
    video (edges ``linspace(0, num_frames, count + 1)`` truncated), the middle frame of each
    (``(start + end - 1) // 2``). ``frame_rate`` and ``slice_framepos`` play no part. X-Pool pads
    a short video by repeating its last frame; tvrkit masks the missing frames instead."""
    count = min(max_frames, num_frames)
    if count <= 0:
        return []
    edges = np.linspace(0, num_frames, num=count + 1).astype(int)
    return [int((lo + hi - 1) // 2) for lo, hi in itertools.pairwise(edges.tolist())]


HMMC_CANDIDATES = 30  # frames HMMC's tools/frame2lmdb.py stores per video
EERCF_FOLDER_LIMIT, EERCF_FOLDER_KEEP = 256, 128  # rawframe_util.py: folders above 256 frames keep 128


def hmmc_candidates(num_frames: int) -> list[int]:
    """HMMC's 30 stored frames: ``frame2lmdb.py`` keeps ``linspace(0, frameCount - 10, 30)`` (int) of the
    source video; ``frameCount - 10`` of a 30 fps source is the instant of the last frame of a 3 fps
    copy, so over tvrkit's stored frames that is ``linspace(0, num_frames - 1, 30)``. Copies shorter
    than 30 frames (10 s at 3 fps) repeat frames where the official store holds frames 1/30 s apart."""
    if num_frames <= 0:
        return []
    return [int(i) for i in np.linspace(0, num_frames - 1, num=HMMC_CANDIDATES, dtype=int)]


def hmmc_frames(num_frames: int, fps: float, max_frames: int, frame_rate: float, slice_framepos: str,
                rng: np.random.Generator | None = None) -> list[int]:
    """HMMC's training frames (``dataloader_msrvtt_retrieval.py``, ``MSRVTT_TrainDataLoader``):
    ``max_frames`` distinct positions of the 30 :func:`hmmc_candidates` drawn at random, sorted;
    always ``max_frames`` frames, never padded. ``frame_rate`` and ``slice_framepos`` play no part."""
    if rng is None:
        raise ValueError("hmmc training sampling needs an rng")
    cands = hmmc_candidates(num_frames)
    if not cands:
        return []
    if max_frames > HMMC_CANDIDATES:
        raise ValueError(f"hmmc sampling draws from {HMMC_CANDIDATES} frames; max_frames {max_frames} is more")
    return [cands[int(i)] for i in np.sort(rng.choice(HMMC_CANDIDATES, size=max_frames, replace=False))]


def hmmc_test_frames(num_frames: int, fps: float, max_frames: int, frame_rate: float, slice_framepos: str,
                     rng: np.random.Generator | None = None) -> list[int]:
    """HMMC's test frames (``MSRVTT_DataLoader``): positions ``linspace(0, 30, max_frames,
    endpoint=False)`` (int) of the 30 :func:`hmmc_candidates`, 0, 2, 5, 7, ... for 12."""
    cands = hmmc_candidates(num_frames)
    if not cands:
        return []
    positions = np.linspace(0, HMMC_CANDIDATES, num=max_frames, endpoint=False, dtype=int)
    return [cands[int(i)] for i in positions]


def eercf_frames(num_frames: int, fps: float, max_frames: int, frame_rate: float, slice_framepos: str,
                 rng: np.random.Generator | None = None) -> list[int]:
    """EERCF's frame folders (``rawframe_util.py`` ``image_to_tensor``): every stored frame is a
    candidate whatever ``frame_rate`` (a folder of more than 256 frames keeps 128 evenly spaced),
    then CLIP4Clip's ``slice_framepos``; clips with at least ``max_frames`` stored frames (4 s at
    3 fps) always fill ``max_frames``, where a 1 fps grid leaves a 10 s clip 10 frames and a mask."""
    cands = list(range(max(num_frames, 0)))
    if len(cands) > EERCF_FOLDER_LIMIT:
        cands = [int(i) for i in np.linspace(0, len(cands) - 1, num=EERCF_FOLDER_KEEP, dtype=int)]
    return [cands[p] for p in slice_positions(len(cands), max_frames, slice_framepos)]


SAMPLERS: dict[str, Callable[..., list[int]]] = {"uniform": uniform_frames, "random": random_frames,
                                                 "clip4clip": clip4clip_frames, "xpool": xpool_frames,
                                                 "hmmc": hmmc_frames, "hmmc_test": hmmc_test_frames,
                                                 "eercf": eercf_frames}
# Modes whose test-time rule differs from their training draw (the loaders' evaluation side uses it).
EVAL_MODES = {"hmmc": "hmmc_test"}


def eval_mode(mode: str) -> str:
    """The sampler evaluation runs for ``data.eval_sampling`` ``mode``."""
    return EVAL_MODES.get(mode, mode)


def sample_frames(num_frames: int, fps: float, max_frames: int, frame_rate: float, mode: str,
                  slice_framepos: str = "uniform", rng: np.random.Generator | None = None) -> list[int]:
    """Frame indices (increasing, at most ``max_frames``) chosen by sampler ``mode``."""
    try:
        sampler = SAMPLERS[mode]
    except KeyError:
        raise ValueError(f"unknown frame sampling {mode!r}; known: {', '.join(SAMPLERS)}") from None
    return sampler(num_frames, fps, max_frames, frame_rate, slice_framepos, rng)
