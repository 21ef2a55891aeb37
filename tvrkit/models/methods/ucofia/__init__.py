"""UCoFiA (Wang et al., ICCV 2023) as Ziyang412/UCoFiA computes it: its options, facts and
registration (torch-free). The modules and the official-checkpoint mapping are in ``model.py``,
its patch selector and patch shift in ``ops.py``."""

from __future__ import annotations

from dataclasses import dataclass

from tvrkit.config import option
from tvrkit.models.config import TemporalOptions
from tvrkit.models.methods import MethodFacts, MethodSpec, ScoreLevel

#: UCoFiA's three levels, coarse to fine; ``total`` is their mean
LEVELS = ("video_sentence", "frame_sentence", "patch_word")


@dataclass(frozen=True)
class UcofiaOptions:
    """The sizes UCoFiA's learned matrices are built for, the perturbed top-k patch selector, the patch
    shift and the deterministic evaluation draw (train/scripts/train_msrvtt.sh and the hard-coded values)."""

    temporal: TemporalOptions = option(factory=TemporalOptions, description="The temporal module of the video "
                                       "level (--sim_header seqTransf in the recipe; --cross_num_hidden_layers).")
    max_frames: int = option(12, "Frames per video (--max_frames): the learned frame and patch aggregation "
                             "matrices are max_frames (x topk+1) square, so every video is zero-padded to exactly "
                             "this many frames, as the official loaders do.", minimum=1)
    max_words: int = option(32, "Tokens per caption (--max_words): the learned word aggregation matrices are "
                            "max_words square, so every caption is zero-padded to exactly this many tokens.",
                            minimum=2)
    topk: int = option(3, "Patches the learned selector keeps per frame besides the CLS token "
                       "(VisualTokenSelection topk=3; the official pixel matrices are built for 3).", minimum=1)
    num_samples: int = option(500, "Noise samples of the perturbed top-k (PerturbedTopK num_samples).", minimum=1)
    sigma: float = option(0.05, "Noise scale of the perturbed top-k (PerturbedTopK sigma).", exclusive_minimum=0)
    eval_noise_seed: int = option(0, "Evaluation is deterministic: the selector's num_samples noise rows are drawn "
                                  "once from a generator with this seed and shared by every frame (training draws "
                                  "fresh noise from the global RNG as the official code does; the official "
                                  "evaluation does too, which tvrkit does not).", minimum=0)
    shift_layers: tuple[int, ...] = option((-2, -1), "Indices of the image tower's blocks whose attention input "
                                           "is patch-shifted between adjacent frames; negative ones count from the "
                                           "end, as in Python (the official make_patch_shift hard-codes blocks 10 "
                                           "and 11 of ViT-B/32's 12: the last two, which the default names on any "
                                           "tower).")
    shift_div: int = option(7, "n_div of the patch shift: every (tokens // shift_div)-th patch from token 1 comes "
                            "from the previous frame, from token 4 from the next.", minimum=1)


def facts(options: UcofiaOptions) -> MethodFacts:
    """UCoFiA's learned matrices fix its frame budget; --post sk normalises each level on its own."""
    return MethodFacts(
        levels=(ScoreLevel("video_sentence", "scale * (sentence A) . (video B), the temporal module's mean-pooled "
                           "video, A and B learned"),
                ScoreLevel("frame_sentence", "scale * learned softmax pooling over frames of sentence . frame"),
                ScoreLevel("patch_word", "learned softmax pooling over words and selected patches of word . patch")),
        coarse_level="unit sentence . unit mean of the unit frames after the temporal module (re-ranked by UCoFiA's "
                     "mean of three levels)",
        post_levels=LEVELS,
        block_size=64,
        temporal=options.temporal.describe(),
        frames=options.max_frames,
    )


METHOD = MethodSpec(
    name="ucofia",
    description="UCoFiA: mean of learned video, frame and patch-word alignments (SK-norm per level with --post sk)",
    options=UcofiaOptions,
    facts=facts,
    model=".model:UCoFiA",
)
