"""T-MASS (Wang et al., CVPR 2024, "Text Is MASS: Modeling as Stochastic Embedding for Text-Video
Retrieval") as Jiamian-Wang/T-MASS-text-video-retrieval computes it: its options, facts and
registration (torch-free). The math, the modules and the official-checkpoint mapping are in
``model.py``; built on X-Pool's text-conditioned pooling (``tvrkit.models.methods.xpool``)."""

from __future__ import annotations

from dataclasses import dataclass

from tvrkit.config import option
from tvrkit.models.methods import MethodFacts, MethodSpec, ScoreLevel


@dataclass(frozen=True)
class TmassOptions:
    """X-Pool's pooling, the stochastic text embedding and its evaluation draw. Defaults are the
    official code's (config/all_config.py); the recipes set what their README commands set."""

    heads: int = option(1, "Heads of X-Pool's text-conditioned attention over frames (--num_mha_heads); must "
                        "divide the embedding width.", minimum=1)
    dropout: float = option(0.3, "Dropout on the pooling's residual linear branch while training "
                            "(--transformer_dropout: 0.3 for MSR-VTT-9k and LSMDC, 0.4 for DiDeMo).",
                            minimum=0, maximum=1)
    max_frames: int = option(12, "Frames per video the radius module is built for (--num_frames): the input width "
                             "of its linear layer over the per-frame cosines. Every video must come with exactly "
                             "this many frame slots (set data.max_frames to it; shorter videos are padded and "
                             "masked).", minimum=1)
    trials: int = option(20, "Stochastic text embeddings drawn per (text, candidate video) at evaluation; the one "
                         "closest to that candidate is kept (--stochasic_trials).", minimum=1)
    prior: str = option("uniform01", "Distribution of the re-parameterisation noise (--stochastic_prior): U[0, 1) "
                        "per channel, or a zero-mean normal with prior_std.", choices=("uniform01", "normal"))
    prior_std: float = option(1.0, "Standard deviation of the normal prior (--stochastic_prior_std; 3e-3 in the "
                              "LSMDC command).", exclusive_minimum=0)
    support_loss_weight: float = option(0.0, "Weight of the support-text loss added to the stochastic-text loss "
                                        "(--support_loss_weight; 0.8 in the MSR-VTT command).", minimum=0)
    seed: int = option(24, "Seed of the evaluation draw: one fixed set of `trials` noise vectors, drawn from its "
                       "own generator (the caller's random state is untouched), so that scores are a function "
                       "of the model and the seed (the official test draws afresh every run; --seed 24 in its "
                       "README).", minimum=0)


METHOD = MethodSpec(
    name="tmass",
    description="T-MASS: X-Pool's text-conditioned pooling scored against a stochastic text embedding whose "
                "radius depends on the text-frame similarities; the best of several draws per candidate",
    options=TmassOptions,
    facts=lambda options: MethodFacts(
        levels=(ScoreLevel("deterministic", "cosine of the sentence and the video pooled by attention conditioned "
                           "on that sentence (no sampling; X-Pool's score)"),),
        coarse_level="unit sentence . unit mean of the unit CLIP frame embeddings (re-ranked by T-MASS's score)",
        block_size=64,  # the pooled block and the radius are [texts, videos, D]
        frames=options.max_frames,
    ),
    model=".model:TMASS",
)
