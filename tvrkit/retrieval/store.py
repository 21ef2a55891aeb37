"""A feature store on disk: one raw file per feature field, rows read back by memory map.

Evaluation caches every text's and video's features here so each is encoded once. The
fine levels need per-frame (and per-word, per-patch) features, which for a large gallery
do not fit in memory (1M videos x 12 frames x 512 floats is 24 GB), so the store is read
with ``np.memmap`` and only the rows a step needs (a block of the gallery, the top-K
candidates of some queries) are ever loaded. Rows are appended batch by batch as they are
encoded; a store is complete once ``store.json`` exists (written last, atomically).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tvrkit.fsutil import write_json_atomic

log = logging.getLogger(__name__)
META_FILE = "store.json"
COPY_ROWS = 4096  # rows copied per step when merging stores: bounds memory for huge fields


def _field_path(directory: Path, name: str) -> Path:
    return directory / f"{name}.bin"


class StoreWriter:
    """Appends rows (ids plus named arrays ``[B, ...]``) to a new store in ``directory``.

    Floating fields are stored as ``dtype`` (float32, or float16 to halve a huge gallery);
    other dtypes (masks) are kept. A field whose dimension 1 is shorter than in the first
    batch is padded with zeros/False there (masked positions change no score).
    """

    def __init__(self, directory: str | os.PathLike[str], dtype: str = "float32") -> None:
        self.directory = Path(directory)
        if self.directory.exists():
            shutil.rmtree(self.directory)  # a store is only trusted once complete; restart it
        self.directory.mkdir(parents=True)
        self.float_dtype = np.dtype(dtype)
        self.ids: list[str] = []
        self.fields: dict[str, dict[str, Any]] = {}
        self._files: dict[str, Any] = {}

    def append(self, ids: Sequence[str], arrays: Mapping[str, Any]) -> None:
        """Add ``len(ids)`` rows; ``arrays`` maps field name to a tensor/array with that many rows."""
        if self.fields and set(arrays) != set(self.fields):
            raise ValueError(f"every batch needs the same fields: {sorted(arrays)} vs {sorted(self.fields)}")
        for name, value in arrays.items():
            arr = np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value)
            if len(arr) != len(ids):
                raise ValueError(f"field {name!r} has {len(arr)} rows for {len(ids)} ids")
            dtype = self.float_dtype if arr.dtype.kind == "f" else arr.dtype
            spec = self.fields.setdefault(name, {"dtype": dtype.str, "shape": list(arr.shape[1:])})
            if list(arr.shape[1:]) != spec["shape"]:
                arr = _pad_to(arr, spec["shape"], name)
            if name not in self._files:
                self._files[name] = open(_field_path(self.directory, name), "wb")
            self._files[name].write(np.ascontiguousarray(arr, dtype=np.dtype(spec["dtype"])).tobytes())
        self.ids += [str(i) for i in ids]

    def close(self, extra: Mapping[str, Any] | None = None) -> FeatureStore:
        """Flush the fields and write ``store.json`` (the store is complete from then on)."""
        for fh in self._files.values():
            fh.flush()
            os.fsync(fh.fileno())
            fh.close()
        self._files.clear()
        write_json_atomic(self.directory / META_FILE,
                          {"count": len(self.ids), "ids": self.ids, "fields": self.fields, "extra": dict(extra or {})})
        return FeatureStore(self.directory)


def _pad_to(arr: np.ndarray, shape: list[int], name: str) -> np.ndarray:
    if arr.ndim != len(shape) + 1 or arr.shape[2:] != tuple(shape[1:]) or arr.shape[1] > shape[0]:
        raise ValueError(f"field {name!r}: rows of shape {arr.shape[1:]} do not fit the store's {tuple(shape)}")
    pad = [(0, 0), (0, shape[0] - arr.shape[1])] + [(0, 0)] * (arr.ndim - 2)
    return np.pad(arr, pad)


class FeatureStore:
    """A complete store, read-only: ``ids``, and rows of any field by index, via memmap."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        meta_path = self.directory / META_FILE
        if not meta_path.exists():
            raise FileNotFoundError(f"{self.directory} is not a complete feature store (no {META_FILE})")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        self.ids: list[str] = meta["ids"]
        self.extra: dict[str, Any] = meta.get("extra", {})
        self.specs: dict[str, dict[str, Any]] = meta["fields"]
        self._maps: dict[str, np.memmap] = {}

    @staticmethod
    def is_complete(directory: str | os.PathLike[str]) -> bool:
        """Whether ``directory`` holds a finished store whose field files have every row; a
        damaged one (a truncated field, an unreadable ``store.json``) is logged and is not."""
        directory = Path(directory)
        if not (directory / META_FILE).exists():
            return False
        try:
            meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
            for name, spec in meta["fields"].items():
                want = len(meta["ids"]) * int(np.prod(spec["shape"])) * np.dtype(spec["dtype"]).itemsize
                path = _field_path(directory, name)
                have = path.stat().st_size if path.exists() else 0
                if have != want:
                    log.warning("feature cache %s is damaged (%s: %d bytes, %d expected): re-embedding", directory,
                                path.name, have, want)
                    return False
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("feature cache %s is unreadable (%s): re-embedding", directory, exc)
            return False
        return True

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(self.specs)

    def array(self, name: str) -> np.ndarray:
        """The whole field as a read-only memmap ``[N, ...]`` (nothing is read until indexed)."""
        if name not in self._maps:
            spec = self.specs[name]
            shape = (len(self.ids), *spec["shape"])
            if len(self.ids) == 0:
                return np.zeros(shape, dtype=np.dtype(spec["dtype"]))
            self._maps[name] = np.memmap(_field_path(self.directory, name), dtype=np.dtype(spec["dtype"]),
                                         mode="r", shape=shape)
        return self._maps[name]

    def rows(self, index: Any, names: Iterable[str] | None = None) -> dict[str, Any]:
        """Torch tensors of the rows ``index`` (ints, slice or array) of each field; floating
        fields come back as float32 whatever their storage dtype."""
        import torch

        if isinstance(index, slice):
            picked = index
        else:
            picked = np.asarray(index.cpu().numpy() if hasattr(index, "cpu") else index, dtype=np.int64)
        out = {}
        for name in names or self.specs:
            arr = np.asarray(self.array(name)[picked])
            out[name] = torch.from_numpy(arr.astype(np.float32) if arr.dtype.kind == "f" else arr.copy())
        return out


def merge_stores(parts: Sequence[FeatureStore], directory: str | os.PathLike[str], order: Sequence[str],
                 extra: Mapping[str, Any] | None = None) -> FeatureStore:
    """One store holding the rows of ``order`` (ids), each from the first part that has it.

    Ranks write their own parts; this puts the rows in a fixed order (the split's), so the
    result does not depend on the number of ranks, and drops duplicate ids. Ids in ``order``
    that no part has are an error: the caller decides what is missing before merging.
    """
    where: dict[str, tuple[int, int]] = {}
    for p, part in enumerate(parts):
        for r, vid in enumerate(part.ids):
            where.setdefault(vid, (p, r))
    absent = [i for i in order if i not in where]
    if absent:
        raise KeyError(f"{len(absent)} ids are in no part, e.g. {absent[:3]}")
    dtype = next((spec["dtype"] for part in parts for spec in part.specs.values()
                  if np.dtype(spec["dtype"]).kind == "f"), "float32")
    writer = StoreWriter(directory, dtype=np.dtype(dtype).name)
    for start in range(0, len(order), COPY_ROWS):
        chunk = list(order[start:start + COPY_ROWS])
        arrays: dict[str, list[tuple[list[int], np.ndarray]]] = {}
        # group consecutive rows by part so each part is read with one fancy index per chunk
        for p, part in enumerate(parts):
            sel = [k for k, vid in enumerate(chunk) if where[vid][0] == p]
            if not sel:
                continue
            rows = np.array([where[chunk[k]][1] for k in sel], dtype=np.int64)
            for name in part.specs:
                arrays.setdefault(name, []).append((sel, np.asarray(part.array(name)[rows])))
        merged = {}
        for name, pieces in arrays.items():
            first = pieces[0][1]
            out = np.empty((len(chunk), *first.shape[1:]), dtype=first.dtype)
            for sel, values in pieces:
                out[sel] = values
            merged[name] = out
        writer.append(chunk, merged)
    return writer.close(extra)
