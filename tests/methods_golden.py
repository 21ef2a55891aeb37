"""Shared by the CLIP4Clip, X-Pool and DRL golden tests: the tiny OpenAI-layout CLIP the official
code was run with, the inputs it was given, and the comparison the method issues accept.

``tests/fixtures/methods/openai-tiny`` holds ``openai-tiny.json`` (the test-only open_clip config:
embed 64, 1 head per tower as the official code derives heads from width // 64, vision 2 layers /
patch 8 / 32 px, text 2 layers / context 77 / vocab 512), ``clip_tiny_openai.pt`` (that CLIP's
seeded random weights as a plain OpenAI-layout state dict in fp16, as OpenAI ships them) and
``inputs.pt``: 6 captions of 1, 3, 7, 12, 20 and 30 words (SOT 510 ... EOT 511, zero padded to 32
tokens; the last is 32 tokens long), 5 videos of 12 frames and 2 of 4 and 7 (zero-padded frames,
``frame_mask``), frames stored in fp16. They were written by /work/ref/golden/make_clip4clip.py.
"""

from __future__ import annotations

from pathlib import Path

import open_clip
import torch

FIXTURES = Path(__file__).parent / "fixtures" / "methods"
OPENAI_TINY = FIXTURES / "openai-tiny"
PRETRAINED = OPENAI_TINY / "clip_tiny_openai.pt"
FULL = 5  # videos 0..4 have all 12 frames
TOL = 1e-4  # of the official score's range


def backbone(**extra: object) -> dict:
    """``model.backbone`` for the tiny architecture (registered with open_clip here)."""
    open_clip.add_model_config(OPENAI_TINY / "openai-tiny.json")
    return {"name": "openai-tiny", **extra}


def recipe(config: str, **temporal: object) -> dict:
    """The ``model`` section of shipped ``configs/CONFIG``, on the tiny architecture (and ``temporal``
    overrides for the fixture's layer count): what load_checkpoint(path, config=CONFIG) builds."""
    from tvrkit.config.load import read_yaml

    model = read_yaml(Path(__file__).resolve().parents[1] / "tvrkit" / "configs" / config)["model"]
    model["backbone"] = backbone()
    if temporal:
        options = model.setdefault(model["method"], {})
        options["temporal"] = {**options.get("temporal", {}), **temporal}
    return model


def inputs() -> dict:
    data = torch.load(OPENAI_TINY / "inputs.pt")
    data["frames"] = data["frames"].float()
    return data


def scores(model, data: dict, videos: int | None = None, tokens: torch.Tensor | None = None) -> torch.Tensor:
    """``score()["total"]`` of every caption against the first ``videos`` videos (default all)."""
    end = videos or len(data["frames"])
    with torch.no_grad():
        text = model.encode_text(data["tokens"] if tokens is None else tokens)
        video = model.encode_video(data["frames"][:end], data["frame_mask"][:end])
        return model.score(text, video)["total"]


def relative_deviation(ours: torch.Tensor, official: torch.Tensor) -> float:
    """Largest absolute difference as a fraction of the official scores' range."""
    return float((ours - official).abs().max() / (official.max() - official.min()))


def assert_same_scores(ours: torch.Tensor, official: torch.Tensor) -> None:
    """Equal to 1e-4 of the range, and the same ranking of videos per text and texts per video."""
    assert ours.shape == official.shape
    deviation = relative_deviation(ours, official)
    assert deviation < TOL, deviation
    assert torch.equal(ours.argsort(dim=1), official.argsort(dim=1))
    assert torch.equal(ours.argsort(dim=0), official.argsort(dim=0))


def train_loss(model, data: dict, pairs: int = 4) -> float:
    """``model.loss`` in train mode on the first ``pairs`` caption/video pairs (the golden batch)."""
    model.train()
    with torch.no_grad():
        loss, _ = model(data["tokens"][:pairs], data["frames"][:pairs], data["frame_mask"][:pairs])
    return float(loss)
