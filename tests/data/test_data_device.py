"""``tvrkit.data.device``: the one CLIP normalisation (on the model's device) and the batch
iterator that moves loader batches there (a side-stream prefetcher on CUDA)."""

from __future__ import annotations

import pytest
import torch

from tvrkit.data.device import DeviceBatches, batch_to_device, normalise_frames


def _batch(seed: int, b: int = 2, t: int = 3, side: int = 8) -> dict:
    g = torch.Generator().manual_seed(seed)
    mask = torch.zeros(b, t, dtype=torch.bool)
    mask[0, :] = True
    mask[1, :1] = True
    frames = torch.randint(0, 256, (b, t, 3, side, side), dtype=torch.uint8, generator=g)
    frames[~mask] = 0  # the loaders' padding
    return {"frames": frames, "frame_mask": mask, "video_ids": [f"v{seed}a", f"v{seed}b"],
            "tokens": torch.arange(b * 4).view(b, 4)}


def test_normalise_is_clip_mean_std_and_padding_stays_zero():
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

    batch = _batch(0)
    out = normalise_frames(batch["frames"], batch["frame_mask"])
    mean = torch.tensor(OPENAI_DATASET_MEAN).view(3, 1, 1)
    std = torch.tensor(OPENAI_DATASET_STD).view(3, 1, 1)
    expected = (batch["frames"].float() / 255 - mean) / std
    torch.testing.assert_close(out[batch["frame_mask"]], expected[batch["frame_mask"]], rtol=0, atol=1e-5)
    padding = out[~batch["frame_mask"]]
    assert padding.numel() and torch.equal(padding, torch.zeros_like(padding)) and not padding.signbit().any()
    unmasked = normalise_frames(batch["frames"])  # without a mask every frame is a frame
    assert torch.equal(unmasked[batch["frame_mask"]], out[batch["frame_mask"]])
    assert not torch.equal(unmasked, out)


def test_device_batches_on_cpu_normalise_each_batch_and_keep_the_rest():
    batches = [_batch(0), _batch(1)]
    moved = list(DeviceBatches(batches, "cpu"))
    assert len(DeviceBatches(batches, "cpu")) == 2 and len(moved) == 2
    for raw, got in zip(batches, moved, strict=True):
        assert torch.equal(got["frames"], normalise_frames(raw["frames"], raw["frame_mask"]))
        assert got["video_ids"] == raw["video_ids"] and torch.equal(got["tokens"], raw["tokens"])
        assert raw["frames"].dtype == torch.uint8, "the loader's batch is left as it was"
    with pytest.raises(TypeError, match="uint8"):
        batch_to_device(moved[0], torch.device("cpu"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_prefetcher_gives_the_cpu_results_in_order():
    batches = [_batch(seed) for seed in range(4)]
    for got, raw in zip(DeviceBatches(batches, "cuda"), batches, strict=True):
        assert got["frames"].is_cuda and got["frame_mask"].is_cuda
        expected = normalise_frames(raw["frames"], raw["frame_mask"])
        torch.testing.assert_close(got["frames"].cpu(), expected, rtol=0, atol=1e-6)
        assert got["video_ids"] == raw["video_ids"]
