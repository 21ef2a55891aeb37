"""CLIP4Clip (Luo et al., 2021) as ArrowLuo/CLIP4Clip computes it: its options, facts and
registration (torch-free). The modules and the official-checkpoint mapping are in ``model.py``."""

from __future__ import annotations

from dataclasses import dataclass

from tvrkit.config import option
from tvrkit.models.config import TemporalOptions
from tvrkit.models.methods import MethodFacts, MethodSpec, ScoreLevel

COSINE = "unit sentence . unit mean of the unit frame embeddings after the temporal module"


@dataclass(frozen=True)
class Clip4ClipOptions:
    """CLIP4Clip's loose similarity: its --sim_header (meanP or seqTransf; tightTransf is not offered)."""

    temporal: TemporalOptions = option(factory=TemporalOptions, description="The temporal module (--sim_header, "
                                       "--cross_num_hidden_layers).")


def facts(options: Clip4ClipOptions) -> MethodFacts:
    """CLIP4Clip's one score is the cosine of two cacheable unit vectors: an index ranks by it exactly."""
    return MethodFacts(
        levels=(ScoreLevel("video_sentence", COSINE),),
        coarse_level=f"video_sentence ({COSINE})",
        total_is_global=True,
        temporal=options.temporal.describe(),
    )


METHOD = MethodSpec(
    name="clip4clip",
    description="CLIP4Clip: cosine of the sentence and the mean-pooled frames (meanP or seqTransf)",
    options=Clip4ClipOptions,
    facts=facts,
    model=".model:Clip4Clip",
)
