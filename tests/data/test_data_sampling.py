"""Pure data pieces: frame sampling, rank samplers, tokenization, transforms, DataConfig schema."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tvrkit.data.batch_samplers import TrainBatchSampler, eval_block
from tvrkit.data.config import DataConfig
from tvrkit.data.frame_indices import candidate_indices, sample_frames, slice_positions


def test_candidates_follow_frame_rate():
    assert candidate_indices(10, 3.0, 1.0) == [0, 3, 6, 9]
    assert candidate_indices(50, 3.0, 1.0) == list(range(0, 50, 3))
    assert candidate_indices(5, 3.0, 3.0) == [0, 1, 2, 3, 4]
    assert candidate_indices(5, 3.0, 10.0) == [0, 1, 2, 3, 4]
    assert candidate_indices(0, 3.0, 1.0) == []


def test_slice_framepos_modes():
    assert slice_positions(20, 4, "head") == [0, 1, 2, 3]
    assert slice_positions(20, 4, "tail") == [16, 17, 18, 19]
    assert slice_positions(20, 4, "uniform") == [0, 6, 12, 19]
    assert slice_positions(3, 4, "tail") == [0, 1, 2]


def test_uniform_sampling_is_clip4clip():
    # 30 s at 3 fps: 30 candidates at 1 fps, 12 evenly spaced among them
    frames = sample_frames(90, 3.0, 12, 1.0, "uniform", "uniform")
    assert frames == [3 * int(p) for p in np.linspace(0, 29, 12, dtype=int)]
    assert sample_frames(90, 3.0, 12, 1.0, "uniform", "head") == list(range(0, 36, 3))


def test_short_video_gives_fewer_frames_never_repeats():
    assert sample_frames(12, 3.0, 12, 1.0, "uniform") == [0, 3, 6, 9]
    rng = np.random.default_rng(0)
    frames = sample_frames(12, 3.0, 12, 1.0, "random", rng=rng)
    assert len(frames) == 4 and len(set(frames)) == 4


def test_random_sampling_one_frame_per_segment():
    for seed in range(20):
        frames = sample_frames(90, 3.0, 12, 1.0, "random", rng=np.random.default_rng(seed))
        assert len(frames) == 12
        for k, f in enumerate(frames):
            assert k * 90 // 12 <= f < (k + 1) * 90 // 12 + 1
    a = sample_frames(90, 3.0, 12, 1.0, "random", rng=np.random.default_rng([1, 2, 3]))
    b = sample_frames(90, 3.0, 12, 1.0, "random", rng=np.random.default_rng([1, 2, 3]))
    assert a == b


def test_unknown_sampling_raises():
    with pytest.raises(ValueError, match="unknown frame sampling"):
        sample_frames(10, 3.0, 4, 1.0, "middle")


@pytest.mark.parametrize("n,world,batch", [(10, 2, 3), (7, 3, 2), (1, 2, 4), (64, 4, 8)])
def test_train_sampler_equal_batches_every_item_seen(n, world, batch):
    samplers = [TrainBatchSampler(n, batch, r, world, seed=1, epoch=0) for r in range(world)]
    lengths = {len(s) for s in samplers}
    assert len(lengths) == 1
    batches = [list(s) for s in samplers]
    assert all(len(b) == batch for rank in batches for b in rank)
    seen = {i for rank in batches for b in rank for i in b}
    assert seen == set(range(n))


def test_train_sampler_is_a_function_of_seed_epoch_and_resumes():
    full = list(TrainBatchSampler(50, 4, 0, 2, seed=3, epoch=1))
    assert full == list(TrainBatchSampler(50, 4, 0, 2, seed=3, epoch=1))
    assert full != list(TrainBatchSampler(50, 4, 0, 2, seed=3, epoch=2))
    resumed = TrainBatchSampler(50, 4, 0, 2, seed=3, epoch=1, start_batch=4)
    assert list(resumed) == full[4:] and len(resumed) == len(full) - 4
    assert resumed.total_batches == len(full)


def test_eval_blocks_cover_once_in_order():
    for n, world in [(10, 3), (2, 4), (0, 2)]:
        blocks = [list(eval_block(n, r, world)) for r in range(world)]
        assert [i for b in blocks for i in b] == list(range(n))


def test_tokenize_keeps_end_token_when_cut():
    from tvrkit.data.tokenize import tokenize

    tokens = tokenize(["a man is cooking " * 20, "a dog"], max_words=8)
    assert tokens.shape == (2, 8) and tokens.dtype == torch.long
    sot, eot = 49406, 49407
    assert tokens[0, 0] == sot and tokens[0, -1] == eot
    assert tokens[1, 0] == sot and (tokens[1] == eot).nonzero().item() == 3 and tokens[1, 4:].eq(0).all()


def test_transform_resizes_crops_and_normalises():
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

    from tvrkit.data.device import normalise_frames
    from tvrkit.data.transforms import FrameTransform

    frames = torch.full((2, 3, 48, 64), 255, dtype=torch.uint8)
    crop = FrameTransform(32).crop(frames)
    assert crop.shape == (2, 3, 32, 32) and crop.dtype == torch.uint8
    out = normalise_frames(crop)
    assert out.dtype == torch.float32
    expected = (1.0 - torch.tensor(OPENAI_DATASET_MEAN)) / torch.tensor(OPENAI_DATASET_STD)
    assert torch.allclose(out[0, :, 16, 16], expected, atol=1e-4)
    same = FrameTransform(48).crop(frames[:, :, :, 8:56])
    assert same.shape == (2, 3, 48, 48)
    with pytest.raises(TypeError, match="uint8"):
        normalise_frames(out)


def test_data_overrides_are_typed():
    from tvrkit.config import load_config

    assert load_config("data", DataConfig, overrides=["image_size=112", "format=lmdb"]).image_size == 112
