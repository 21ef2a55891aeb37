"""``run_shard`` on real generated videos: round trip, determinism, failures, resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from repo_paths import REPO, TESTS
from shard_testdata import make_root, make_video, sharded_root

from tvrkit.catalog import Catalog, write_catalog
from tvrkit.media import decode
from tvrkit.media.decode import decode_video
from tvrkit.runlog import read_failures
from tvrkit.shards.config import ShardConfig
from tvrkit.shards.formats.base import get_format
from tvrkit.shards.frames import decode_jpeg
from tvrkit.shards.manifest import read_manifest
from tvrkit.shards.stage import run_shard
from tvrkit.shards.staging import encode_jpeg

# Mean absolute error per pixel of JPEG quality 90: ~2.6 on the real clip; testsrc2's sharp
# colour edges at 64x48 lose more to 4:2:0 chroma subsampling (~8).
REAL_TOLERANCE = 4.0
SYNTHETIC_TOLERANCE = 10.0


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return sharded_root(tmp_path_factory.mktemp("shards") / "root")


def _stored_frames(root: Path, fmt: str, split: str) -> dict[str, list[np.ndarray]]:
    directory = root / "shards" / fmt / split
    out: dict[str, dict[int, np.ndarray]] = {}
    for shard in read_manifest(directory)["shards"]:
        for entry in get_format(fmt).entries(directory / shard["file"], with_frames=True):
            if entry.frame is not None:
                out.setdefault(entry.video_id, {})[entry.frame] = decode_jpeg(entry.data).permute(1, 2, 0).numpy()
    return {vid: [frames[i] for i in sorted(frames)] for vid, frames in out.items()}


@pytest.mark.parametrize("fmt", ["wds", "lmdb"])
def test_round_trip_matches_decoded_video(root, fmt):
    stored = _stored_frames(root, fmt, "train")
    assert sorted(stored) == ["v000", "v001", "v003", "v004", "v005"]
    for vid, frames in stored.items():
        original = decode_video(root / "compressed" / f"{vid}.mp4").frames
        assert len(frames) == len(original)
        error = np.abs(np.stack(frames).astype(np.int16) - original.astype(np.int16)).mean()
        assert error < SYNTHETIC_TOLERANCE, (vid, error)
        # exactly what JPEG-encoding the decoded frame gives: nothing else changed them
        again = decode_jpeg(encode_jpeg(original[-1], 90)).permute(1, 2, 0).numpy()
        assert np.array_equal(frames[-1], again)


def test_manifest_records_counts_failures_and_decoders(root):
    manifest = read_manifest(root / "shards" / "wds" / "train")
    assert manifest["totals"]["videos"] == 5 and manifest["totals"]["failed"] == 1
    assert manifest["totals"]["frames"] == sum(s["frames"] for s in manifest["shards"])
    assert manifest["totals"]["frames"] == sum((2 + n % 4) * 3 for n in (0, 1, 3, 4, 5))
    assert manifest["failed"] == [{"video_id": "v002", "error": "catalog status 'missing'"}]
    assert manifest["decoders"] == {"counts": {"decord": 5}, "fallbacks": []}
    test = read_manifest(root / "shards" / "wds" / "test")
    assert [f["video_id"] for f in test["failed"]] == ["v007"] and "v007.mp4" in test["failed"][0]["error"]
    assert str(root) not in json.dumps(test), "manifests hold no absolute paths"
    assert [f["item"] for f in read_failures(root, "shard")] == ["v007"]


def test_wds_shards_stream_with_webdataset(root):
    import webdataset as wds

    manifest = read_manifest(root / "shards" / "wds" / "train")
    urls = [str(root / "shards" / "wds" / "train" / s["file"]) for s in manifest["shards"]]
    samples = list(wds.WebDataset(urls, shardshuffle=False))
    assert [s["__key__"] for s in samples] == [v for s in manifest["shards"] for v in s["video_ids"]]
    meta = json.loads(samples[0]["json"])
    assert meta["video_id"] == "v000" and meta["frames"] == 6 and meta["fps"] == 3.0
    assert (meta["width"], meta["height"]) == (64, 48)
    assert sorted(k for k in samples[0] if k.endswith(".jpg")) == [f"{i:04d}.jpg" for i in range(6)]


def _tree_bytes(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["wds", "lmdb"])
def test_identical_inputs_give_identical_bytes_for_any_worker_count(root, tmp_path, fmt):
    other = tmp_path / "copy"
    shutil.copytree(root / "catalog", other / "catalog")
    shutil.copytree(root / "compressed", other / "compressed")
    run_shard(ShardConfig(root=str(other), format=fmt, workers=2, shard_multiple=2))
    assert _tree_bytes(other / "shards" / fmt / "train") == _tree_bytes(root / "shards" / fmt / "train")
    assert _tree_bytes(other / "shards" / fmt / "test") == _tree_bytes(root / "shards" / fmt / "test")
    assert not (other / "shards" / ".staging").exists(), "staging is removed after success"


def test_rerun_skips_complete_splits_and_keeps_shards(root):
    shard = root / "shards" / "wds" / "train" / "train-000000.tar"
    before = shard.stat().st_mtime_ns
    summary = run_shard(ShardConfig(root=str(root), format="wds", workers=1, shard_multiple=2, keep_staging=True))
    assert summary["skipped"] == 10 and summary["ok"] == 0
    assert shard.stat().st_mtime_ns == before
    assert [f["item"] for f in read_failures(root, "shard")] == ["v007"], "a skipped split keeps its failure lines"


def test_resume_keeps_complete_shards_and_drops_half_written_ones(tmp_path):
    root = tmp_path / "root"
    make_root(root, {"train": 4}, size="32x24")
    cfg = ShardConfig(root=str(root), format="wds", workers=1, shard_multiple=4, keep_staging=True)
    run_shard(cfg)
    out = root / "shards" / "wds" / "train"
    clean = (out / "manifest.json").read_bytes()
    kept = out / "train-000000.tar"
    kept_mtime = kept.stat().st_mtime_ns
    # a killed run: the manifest not yet written, one shard half-written under its temporary name,
    # one shard missing, and a stale shard of some other plan
    (out / "manifest.json").unlink()
    (out / "train-000001.tar").rename(out / ".train-000001.tar.x1y2.tmp")
    (out / ".train-000001.tar.x1y2.tmp").write_bytes(b"half")
    (out / "train-000003.tar").unlink()
    (out / "train-000099.tar").write_bytes(b"stale")
    plan = {"format": "wds", "params": read_manifest_params(clean),
            "shards": []}  # a different plan than the one the stage computes
    (out / ".plan.json").write_text(json.dumps(plan))
    run_shard(cfg)
    assert (out / "manifest.json").read_bytes() == clean
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json"] + [f"train-00000{i}.tar" for i in range(4)]
    assert kept.stat().st_mtime_ns != kept_mtime, "a different plan on disk means shards are rewritten"


def read_manifest_params(raw: bytes) -> dict:
    return json.loads(raw)["params"]


@pytest.mark.slow
def test_kill_during_sharding_then_rerun_gives_the_same_manifest(tmp_path):
    root = tmp_path / "root"
    make_root(root, {"train": 12}, size="96x72")
    argv = [sys.executable, "-c", "import sys; from tvrkit.cli import main; main(sys.argv[1:])",
            "shard", "--root", str(root), "--workers", "1", "--shard-multiple", "4"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(TESTS)])}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staging = root / "shards" / ".staging"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(staging.rglob("*.tar"))) < 3 and proc.poll() is None:
        time.sleep(0.01)
    assert proc.poll() is None, "the run must still be going when it is killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (root / "shards" / "wds" / "train" / "manifest.json").exists(), "killed before the end"
    assert subprocess.run(argv, env=env, capture_output=True).returncode == 0
    resumed = (root / "shards" / "wds" / "train" / "manifest.json").read_bytes()
    fresh = tmp_path / "fresh"
    shutil.copytree(root / "catalog", fresh / "catalog")
    shutil.copytree(root / "compressed", fresh / "compressed")
    run_shard(ShardConfig(root=str(fresh), format="wds", workers=1, shard_multiple=4))
    assert (fresh / "shards" / "wds" / "train" / "manifest.json").read_bytes() == resumed


def test_decoder_fallback_is_recorded(tmp_path, monkeypatch):
    root = tmp_path / "root"
    make_root(root, {"train": 2}, size="32x24")

    def refuse(path):
        if path.endswith("v001.mp4"):
            raise RuntimeError("cannot read this one")
        return original(path)

    original = decode.DECODERS["decord"]
    monkeypatch.setitem(decode.DECODERS, "decord", refuse)
    run_shard(ShardConfig(root=str(root), format="lmdb", workers=1))
    manifest = read_manifest(root / "shards" / "lmdb" / "train")
    assert manifest["decoders"] == {"counts": {"decord": 1, "ffmpeg": 1},
                                    "fallbacks": [{"video_id": "v001", "decoder": "ffmpeg"}]}
    frames = _stored_frames(root, "lmdb", "train")
    assert len(frames["v001"]) == 9  # 3 s at 3 fps


def test_real_fixture_video_round_trip(tmp_path, shared_fixtures):
    root = tmp_path / "root"
    (root / "compressed").mkdir(parents=True)
    shutil.copy(shared_fixtures / "videos" / "video7500.mp4", root / "compressed" / "video7500.mp4")
    write_catalog(root, Catalog.from_records(
        videos=[{"video_id": "video7500", "status": "ok"}],
        captions=[{"caption_id": "c0", "video_id": "video7500", "caption": "a clip"}],
        splits=[{"split": "test", "video_id": "video7500", "caption_id": "c0"}]))
    run_shard(ShardConfig(root=str(root), format="wds", workers=1))
    manifest = read_manifest(root / "shards" / "wds" / "test")
    assert manifest["totals"]["frames"] == 50
    stored = np.stack(_stored_frames(root, "wds", "test")["video7500"])
    original = decode_video(root / "compressed" / "video7500.mp4").frames
    assert stored.shape == original.shape == (50, 224, 298, 3)
    assert np.abs(stored.astype(np.int16) - original.astype(np.int16)).mean() < REAL_TOLERANCE


def test_unknown_split_is_a_config_error(root):
    from tvrkit.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown split"):
        run_shard(ShardConfig(root=str(root), splits=("nope",)))


def test_make_video_helper_makes_distinct_videos(tmp_path):
    make_video(tmp_path / "a.mp4", 2, hue=0)
    make_video(tmp_path / "b.mp4", 2, hue=120)
    a, b = decode_video(tmp_path / "a.mp4").frames, decode_video(tmp_path / "b.mp4").frames
    assert a.shape == b.shape == (6, 48, 64, 3) and not np.array_equal(a, b)
