"""DRL's weighted token-wise interaction (Wang et al., 2022) as foolwood/DRL computes it, and
BackBone_tvr (the same model without CDCR): options, facts and registration (torch-free). The
modules and the official-checkpoint mapping are in ``model.py``."""

from __future__ import annotations

from dataclasses import dataclass

from tvrkit.config import option
from tvrkit.models.config import TemporalOptions
from tvrkit.models.methods import MethodFacts, MethodSpec, ScoreLevel


@dataclass(frozen=True)
class DrlOptions:
    """DRL's weighted token-wise interaction (--interaction wti --wti_arch 2) with its temporal module
    (--agg_module). Defaults are scripts/msrvtt.sh's 'Weighted Token-wise Interaction + CDCR' line for
    ViT-B/32; cdcr false is BackBone_tvr (shallowdream66/BackBone_tvr)."""

    temporal: TemporalOptions = option(factory=TemporalOptions, description="The temporal module over frames "
                                       "(--agg_module: seqTransf or meanP).")
    cdcr: bool = option(True, "Add the channel decorrelation regulariser (--cdcr 3: every real word against its "
                        "best frame and every real frame against its best word, weighted by the token weights) to "
                        "the training loss. false = BackBone_tvr, which has none.")
    cdcr_alpha1: float = option(0.14, "Weight of its on-diagonal term (--cdcr_alpha1: 0.14 in scripts/msrvtt.sh "
                                "for ViT-B/32, 0.11 in the README command and for ViT-B/16).", minimum=0)
    cdcr_alpha2: float = option(0.0, "Weight of its off-diagonal term (--cdcr_alpha2).", minimum=0)
    cdcr_lambda: float = option(0.001, "Weight of the regulariser in the loss (--cdcr_lambda).", minimum=0)
    padding: str = option("masked", "masked: padded words and frames never win a token-wise maximum (tvrkit's "
                          "honest default). official: as the official code, similarities with padded tokens are 0 "
                          "and take part in the maxima, so any text shorter than its padded length (32 tokens in "
                          "the official loader) and any video shorter than max_frames scores max(best real "
                          "similarity, 0); give tokens padded to 32 and 12 frame slots to reproduce the official "
                          "scores.", choices=("masked", "official"))


def facts(options: DrlOptions) -> MethodFacts:
    """DRL scores token against token: the index's mean-pooled vectors only pre-select for it."""
    return MethodFacts(
        levels=(ScoreLevel("frame_word", "weighted token-wise interaction of words and frames (WTI), the mean "
                           "of the text->video and video->text weighted maxima"),),
        coarse_level="unit sentence . unit mean of the unit frames after the temporal module (re-ranked by WTI)",
        block_size=64,  # the similarity block is [texts, videos, words, frames]
        temporal=options.temporal.describe(),
    )


METHOD = MethodSpec(
    name="drl",
    description="DRL: weighted token-wise interaction of words and frames, with channel decorrelation",
    options=DrlOptions,
    facts=facts,
    model=".model:DRL",
)
