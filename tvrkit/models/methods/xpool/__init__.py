"""X-Pool (Gorti et al., CVPR 2022) as layer6ai-labs/xpool computes it: its options, facts and
registration (torch-free). The modules and the official-checkpoint mapping are in ``model.py``."""

from __future__ import annotations

from dataclasses import dataclass

from tvrkit.config import option
from tvrkit.models.methods import MethodFacts, MethodSpec, ScoreLevel


@dataclass(frozen=True)
class XPoolOptions:
    """X-Pool's text-conditioned pooling. Defaults are the official code's (config/all_config.py)
    and its MSR-VTT-9k command."""

    heads: int = option(1, "Heads of the text-conditioned attention over frames (--num_mha_heads); must divide "
                        "the embedding width.", minimum=1)
    dropout: float = option(0.3, "Dropout on the pooling's residual linear branch while training "
                            "(--transformer_dropout: 0.3 for MSR-VTT-9k and LSMDC, 0.4 for MSR-VTT-7k and MSVD).",
                            minimum=0, maximum=1)


METHOD = MethodSpec(
    name="xpool",
    description="X-Pool: cosine of the sentence and the frames pooled by attention conditioned on that sentence",
    options=XPoolOptions,
    facts=MethodFacts(
        levels=(ScoreLevel("video_sentence", "cosine of the sentence and the video pooled by attention over its "
                           "CLIP frames conditioned on that sentence"),),
        coarse_level="unit sentence . unit mean of the unit CLIP frame embeddings (re-ranked by X-Pool's score)",
        block_size=64,  # the pooled block is [videos, texts, D]
    ),
    model=".model:XPool",
)
