"""VSC-HA (video semantic compression + hierarchical alignment) as OPA067/VSC-HA computes it: its
options, facts and registration (torch-free). The modules and the official-checkpoint mapping are
in ``model.py``."""

from __future__ import annotations

from dataclasses import dataclass

from tvrkit.config import option
from tvrkit.models.methods import MethodFacts, MethodSpec, ScoreLevel


@dataclass(frozen=True)
class VschaOptions:
    """VSC-HA's sizes and loss weights. Defaults are the official code's (config/all_config.py), which
    its MSR-VTT command keeps."""

    max_frames: int = option(12, "Frames per video the model is built for (official --num_frames): the input "
                             "width of the compression module's MLP. Every video must come with exactly this many "
                             "frame slots (shorter ones padded).", minimum=1)
    center: int = option(8, "K of the adaptive (entity-word) pool: the embedding is split into K chunks of "
                         "embed_dim / K channels, each scored and weighted on its own (official --center).",
                         minimum=1)
    heads: int = option(1, "Heads of the text-to-frame attention pool (official --num_mha_heads).", minimum=1)
    dropout: float = option(0.3, "Dropout on the attention pool's residual linear layer, training only (official "
                            "--transformer_dropout).", minimum=0, maximum=1)
    alpha: float = option(0.001, "Weight of the video-sentence loss (absolute pool) in the training loss (official "
                          "--alpha); the frame-sentence loss (attention pool) has weight 1.", minimum=0)
    beta: float = option(0.1, "Weight of the entity-word loss (adaptive pool) in the training loss (official "
                         "--beta).", minimum=0)
    padding: str = option("masked", "masked: padding frames take part in no pool and give the compression module "
                          "no evidence (tvrkit's honest default). repeat_last: as the official loader "
                          "(datasets/video_capture.py), a short video's last frame fills its remaining slots and "
                          "every slot is a real frame for every pool; only needed to reproduce official numbers on "
                          "videos shorter than max_frames.", choices=("masked", "repeat_last"))


METHOD = MethodSpec(
    name="vscha",
    description="VSC-HA: video-, frame- and entity-word-level alignments of a semantically compressed video",
    options=VschaOptions,
    facts=lambda options: MethodFacts(
        levels=(ScoreLevel("video_sentence", "absolute pool: sentence . frames weighted by "
                           "softmax(sentence . frame / 5)"),
                ScoreLevel("frame_sentence", "attention pool (what total ranks by): sentence . frames pooled by "
                           "attention conditioned on the sentence"),
                ScoreLevel("entity_word", "adaptive pool: weighted sum of the cosines of K channel chunks")),
        coarse_level="unit sentence . unit mean of the unit CLIP frame embeddings (re-ranked by the attention pool)",
        block_size=64,
        frames=options.max_frames,
    ),
    model=".model:VSCHA",
)
