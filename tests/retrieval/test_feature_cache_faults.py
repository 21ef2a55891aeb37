"""A truncated or unreadable feature cache counts as absent (so eval and ``tvrkit index`` embed
again, and say so) instead of failing in ``np.memmap`` with "mmap length is greater than file size"."""

from __future__ import annotations

import numpy as np

from tvrkit.retrieval.store import META_FILE, FeatureStore, StoreWriter


def _store(path):
    writer = StoreWriter(path)
    writer.append(["a", "b", "c"], {"global": np.ones((3, 8), np.float32), "frames": np.ones((3, 4, 8), np.float32)})
    return writer.close()


def test_a_complete_store_is_complete(tmp_path):
    store = _store(tmp_path / "s")
    assert FeatureStore.is_complete(store.directory) and store.array("frames").shape == (3, 4, 8)


def test_a_truncated_field_is_not_complete_and_is_reported(tmp_path, caplog):
    store = _store(tmp_path / "s")
    field = store.directory / "frames.bin"
    with open(field, "r+b") as fh:
        fh.truncate(field.stat().st_size - 100)
    assert not FeatureStore.is_complete(store.directory)
    assert "frames.bin" in caplog.text and "re-embedding" in caplog.text
    (store.directory / "global.bin").unlink()
    assert not FeatureStore.is_complete(store.directory)


def test_an_unreadable_meta_is_not_complete(tmp_path, caplog):
    store = _store(tmp_path / "s")
    (store.directory / META_FILE).write_text("{not json")
    assert not FeatureStore.is_complete(store.directory) and "unreadable" in caplog.text
    assert not FeatureStore.is_complete(tmp_path / "absent")
