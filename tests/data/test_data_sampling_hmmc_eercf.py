"""HMMC's and EERCF's frame choices against the index expressions of their official dataloaders
(written here from reading them; each test names the file and line).

- HMMC (cheetah003/HMMC): ``tools/frame2lmdb.py`` stores ``np.linspace(0, frameCount - 10, num=30,
  dtype=int)`` of the source video; ``dataloaders/dataloader_msrvtt_retrieval.py``: training
  ``sorted(random.sample(range(30), max_frames))``, test ``np.linspace(0, 30, max_frames, endpoint=False,
  dtype=int)``.
- EERCF (adxcreative/EERCF): ``dataloaders/rawframe_util.py`` ``image_to_tensor`` loads every frame of
  the folder (``np.linspace(0, n - 1, num=128, dtype=int)`` of them above 256), then
  ``dataloader_msrvtt_retrieval.py`` keeps ``np.linspace(0, n - 1, num=max_frames, dtype=int)`` when
  there are more than ``max_frames`` (``--slice_framepos 2``).
"""

from __future__ import annotations

import numpy as np
import pytest

from tvrkit.data.frame_indices import eval_mode, hmmc_candidates, sample_frames

SOURCE_FPS, STORED_FPS = 30, 3  # an MSR-VTT source and tvrkit's compressed copy of it


def _official_hmmc_store_seconds(seconds: int) -> np.ndarray:
    frame_count = seconds * SOURCE_FPS
    return np.linspace(0, frame_count - 10, num=30, dtype=int) / SOURCE_FPS


@pytest.mark.parametrize("seconds", [10, 15, 22, 30])
def test_hmmc_candidates_are_the_instants_frame2lmdb_stores(seconds):
    mine = np.array(hmmc_candidates(seconds * STORED_FPS)) / STORED_FPS
    official = _official_hmmc_store_seconds(seconds)
    # the same instants up to one stored frame (the 3 fps copy's grid); exact for 10 s clips
    assert np.abs(mine - official).max() < 1 / STORED_FPS + 1e-9
    if seconds == 10:
        assert np.allclose(mine, official)


def test_hmmc_test_frames_are_the_official_evenly_spaced_positions():
    frames = 20 * STORED_FPS
    positions = np.linspace(0, 30, 12, endpoint=False, dtype=int)  # MSRVTT_DataLoader._get_rawvideo
    assert positions.tolist() == [0, 2, 5, 7, 10, 12, 15, 17, 20, 22, 25, 27]
    cands = hmmc_candidates(frames)
    picked = sample_frames(frames, STORED_FPS, 12, 1.0, eval_mode("hmmc"))
    assert picked == [cands[p] for p in positions]
    # always 12 frames, also for a 4 s clip (repeating stored frames, as the official store never pads)
    assert len(sample_frames(4 * STORED_FPS, STORED_FPS, 12, 1.0, eval_mode("hmmc"))) == 12


def test_hmmc_training_draws_max_frames_of_the_30_uniformly_and_sorted():
    frames, draws = 30 * STORED_FPS, 3000
    cands = hmmc_candidates(frames)
    rng = np.random.default_rng(0)
    counts = np.zeros(30)
    for _ in range(draws):
        picked = sample_frames(frames, STORED_FPS, 12, 1.0, "hmmc", rng=rng)
        positions = [cands.index(i) for i in picked]
        assert picked == sorted(picked) and len(set(positions)) == 12
        counts[positions] += 1
    # random.sample(range(30), 12): every position is in a draw with probability 12/30
    assert np.abs(counts / draws - 12 / 30).max() < 0.04
    with pytest.raises(ValueError, match="draws from 30"):
        sample_frames(frames, STORED_FPS, 31, 1.0, "hmmc", rng=rng)


def _official_eercf(folder_frames: int, max_frames: int) -> list[int]:
    frames = np.arange(folder_frames)
    if len(frames) > 256:
        frames = frames[np.linspace(0, len(frames) - 1, num=128, dtype=int)]
    if max_frames < len(frames):
        frames = frames[np.linspace(0, len(frames) - 1, num=max_frames, dtype=int)]
    return frames.tolist()


@pytest.mark.parametrize("stored", [5, 12, 13, 30, 45, 256, 257, 600])
def test_eercf_frames_are_the_official_frame_folder_choice(stored):
    assert sample_frames(stored, STORED_FPS, 12, 1.0, "eercf") == _official_eercf(stored, 12)


def test_eercf_fills_twelve_frames_where_the_one_fps_grid_leaves_a_mask():
    ten_seconds = 10 * STORED_FPS
    assert len(sample_frames(ten_seconds, STORED_FPS, 12, 1.0, "clip4clip")) == 10
    assert len(sample_frames(ten_seconds, STORED_FPS, 12, 1.0, "eercf")) == 12
