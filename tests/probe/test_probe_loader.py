"""The loader probe (``tvrkit bench loader``) on tiny shards: every loader and the floor read the
same frames, ratios are ratios of the rates, too few batches to time is a clear error."""

from __future__ import annotations

import pytest
from shard_testdata import sharded_root

from tvrkit.errors import DataError
from tvrkit.probe.loader import LoaderBenchConfig, format_report, run_loader_bench


@pytest.mark.slow
def test_loader_bench_rates_and_ratios(tmp_path):
    root = sharded_root(tmp_path / "root")
    cfg = LoaderBenchConfig(root=str(root), split="train", workers=1, batch_size=1, max_frames=4, image_size=32,
                            passes=1)
    result = run_loader_bench(cfg)
    rates = result["rates"]
    assert set(rates) == {"floor", "floor+batch", "lmdb", "wds", "raw"}
    # videos of 2, 3, 5, 2, 3 s at 1 fps, at most 4 frames each
    assert rates["floor"]["frames"] == rates["lmdb"]["frames"] == rates["raw"]["frames"] == 2 + 3 + 4 + 2 + 3
    assert rates["lmdb"]["samples"] == 5 and rates["lmdb"]["frames_per_s_per_process"] == rates["lmdb"]["frames_per_s"]
    assert result["ratios"]["wds/floor"] == rates["wds"]["frames_per_s"] / rates["floor"]["frames_per_s"]
    assert "uint8 batches" in format_report(result)
    with pytest.raises(DataError, match="too few"):
        run_loader_bench(LoaderBenchConfig(root=str(root), split="train", workers=1, batch_size=8, max_frames=4,
                                           image_size=32, passes=1, formats=("lmdb",)))
