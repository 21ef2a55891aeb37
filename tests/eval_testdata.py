"""Generated inputs for the eval tests: a tiny dataset root read straight from its compressed
videos (data format ``raw``: no sharding needed) and a checkpoint of a tiny random model in
the trainer's format (``model`` state dict plus the resolved ``config``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shard_testdata import make_root

# Frame sampling small enough that a run embeds in a second or two on CPU.
DATA = {"format": "raw", "train_split": "train", "test_split": "test", "max_frames": 4, "frame_rate": 3.0,
        "workers": 0, "eval_batch_size": 4, "max_words": 16}


def model_section(temporal: str = "meanP", fine: bool = True) -> dict[str, Any]:
    """A published method on tvrkit-tiny: DRL (a fine token-level score that eval re-ranks the
    global ranking with) when ``fine``, else CLIP4Clip (its global vectors rank by its score)."""
    method = "drl" if fine else "clip4clip"
    options = {"temporal": {"type": temporal, "layers": 1}}
    return {"method": method, "backbone": {"arch": "tvrkit-tiny"}, method: options}


def make_checkpoint(path: Path, root: Path, temporal: str = "meanP", fine: bool = True, seed: int = 0) -> Path:
    """Save a randomly initialised tiny model the way ``tvrkit train`` saves checkpoints."""
    import torch

    from tvrkit.config import to_dict
    from tvrkit.models import build_model, load_model_config

    cfg = load_model_config(base=model_section(temporal, fine))
    torch.manual_seed(seed)
    model = build_model(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict(), "config": {"data": {**DATA, "root": str(root)}, "model": to_dict(cfg)}},
               path)
    return path


def make_eval_root(root: Path, missing: tuple[str, ...] = (), test_videos: int = 4) -> Path:
    """train: 2 videos, test: ``test_videos`` (ids v002...), 2 captions each; 64x48, 2-5 s."""
    make_root(root, {"train": 2, "test": test_videos}, missing=missing)
    return root
