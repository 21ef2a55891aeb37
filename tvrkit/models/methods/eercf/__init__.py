"""EERCF (Tian et al., AAAI 2024) as adxcreative/EERCF computes it: its options, facts and
registration (torch-free). The modules and the official-checkpoint mapping are in ``model.py``."""

from __future__ import annotations

from dataclasses import dataclass

from tvrkit.config import option
from tvrkit.models.config import TemporalOptions
from tvrkit.models.methods import MethodFacts, MethodSpec, ScoreLevel

_MIN0 = {"minimum": 0}


@dataclass(frozen=True)
class EercfOptions:
    """EERCF's frame budget, padding policy, training loss weights (the official argument defaults of
    main_eercf.py, which its MSR-VTT command keeps) and the evaluation's hard-coded fusion weights
    (they differ from the loss weights)."""

    temporal: TemporalOptions = option(factory=TemporalOptions, description="The temporal module (--sim_header: "
                                       "EERCF needs seqTransf; --cross_num_hidden_layers).")
    max_frames: int = option(12, "Frames per video the model is built for: the size of the learned "
                             "frame_logit_weight [max_frames, max_frames] of the weak frame score (official "
                             "--max_frames). Videos may have fewer frames, never more.", minimum=1)
    padding: str = option("masked", "masked: padding frames take no part in any score (tvrkit's honest default). "
                          "official: as the official code, every video is padded to max_frames with all-zero "
                          "frames, which go through CLIP and take part in the weak frame, strong frame and weak "
                          "patch softmaxes (the video-level mean and the temporal transformer's keys stay masked); "
                          "only needed to reproduce official numbers on videos shorter than max_frames.",
                          choices=("masked", "official"))
    video_weight: float = option(0.5, "Training: weight of the video-sentence (coarse) logits in the weak "
                                 "similarity matrix (--video_weight).", **_MIN0)
    weak_frame_weight: float = option(0.5, "Training: weight of the weak frame-sentence logits in the weak matrix "
                                      "(--weakframe_weight).", **_MIN0)
    weak_patch_weight: float = option(0.05, "Training: weight of the weak patch-sentence logits in the weak matrix "
                                      "(--weakpatch_weight).", **_MIN0)
    strong_frame_weight: float = option(1.0, "Training: weight of the strong (caption-conditioned) frame logits in "
                                        "the strong matrix (--strongframe_weight).", **_MIN0)
    strong_patch_weight: float = option(0.0, "Training: weight of the strong (caption-conditioned) patch logits in "
                                        "the strong matrix (--strongpatch_weight; 0 = not computed).", **_MIN0)
    weak_loss_weight: float = option(0.8, "Training: weight of the symmetric cross-entropy of the weak matrix "
                                     "(--weak_loss_weight).", **_MIN0)
    strong_loss_weight: float = option(0.2, "Training: weight of the symmetric cross-entropy of the strong matrix "
                                       "(--strong_loss_weight).", **_MIN0)
    cdcl_loss_weight: float = option(0.001, "Training: weight of the channel-decorrelation sum "
                                     "(--cdcl_loss_weight).", **_MIN0)
    cdcl_video_weight: float = option(1.0, "Training: channel decorrelation of sentence vs video vector "
                                      "(--cdcl_video_weight).", **_MIN0)
    cdcl_frame_weight: float = option(1.0, "Training: channel decorrelation of sentence vs caption-pooled frames "
                                      "(--cdcl_frame_weight).", **_MIN0)
    cdcl_patch_weight: float = option(0.0, "Training: channel decorrelation of sentence vs caption-pooled patches "
                                      "(--cdcl_patch_weight; 0 = not computed).", **_MIN0)
    cdcl_on_diagonal: float = option(0.14, "Training: weight of the on-diagonal term (matching channels correlate) "
                                     "in each decorrelation term (hard-coded cdcr_alpha1 in the official model).",
                                     exclusive_minimum=0)
    cdcl_off_diagonal: float = option(0.0, "Training: weight of the off-diagonal term (hard-coded cdcr_alpha2).",
                                      **_MIN0)
    fusion_weak_frame: float = option(0.8, "Evaluation: weight of the weak frame score in total, the second-stage "
                                      "score (hard-coded ii = 0.8 in main_eercf.py).", **_MIN0)
    fusion_strong_frame: float = option(0.2, "Evaluation: weight of the strong frame score in total (hard-coded "
                                        "1 - ii).", **_MIN0)
    fusion_weak_patch: float = option(0.2, "Evaluation: weight of the weak patch score in total (hard-coded "
                                      "jj = 0.2).", **_MIN0)
    fusion_video: float = option(0.5, "Evaluation: weight of the video-sentence (coarse) score in total "
                                 "(hard-coded kk = 0.5).", **_MIN0)


METHOD = MethodSpec(
    name="eercf",
    description="EERCF: a learned coarse ranking re-scored in its top 50 by fused frame and patch scores",
    options=EercfOptions,
    facts=lambda options: MethodFacts(
        levels=(ScoreLevel("coarse", "scale * (unit sentence W) . unit mean-pooled video vector, W learned"),
                ScoreLevel("video", "the coarse score (the official fusion's video term)"),
                ScoreLevel("weak_frame", "sentence . frames, softmax-weighted over frames, mixed by a learned "
                           "frame matrix"),
                ScoreLevel("strong_frame", "sentence . temporal-module frames pooled with weights from the "
                           "sentence"),
                ScoreLevel("weak_patch", "sentence . patches, softmax-weighted over every patch of every frame")),
        coarse_level="coarse (unit sentence . W . mean-pooled video vector; W = EERCF's learned global_mat_weight)",
        unit_vectors=False,  # the text vector is unit sentence @ W
        default_rerank_k=50,  # main_eercf.py --rerantopk 50
        temporal=options.temporal.describe(),
        frames=options.max_frames,
    ),
    model=".model:EERCF",
)
