"""HMMC (hierarchical matching + momentum contrast, TIP 2023) as cheetah003/HMMC computes it: its
options, facts and registration (torch-free). The modules and the official-checkpoint mapping are
in ``model.py``, the momentum queues of its pre-training in ``momentum.py``."""

from __future__ import annotations

from dataclasses import dataclass

from tvrkit.config import option
from tvrkit.models.methods import MethodFacts, MethodSpec, ScoreLevel


@dataclass(frozen=True)
class HmmcPretrainOptions:
    """HMMC's momentum-contrast pre-training objective (BirdPreTrainedModel), used instead of the
    fine-tune loss when enabled. Its FAM and MLM terms are not implemented (docs/methods.md)."""

    enabled: bool = option(False, "Train with the pre-training objective: momentum key encoders, video/text/frame "
                           "key queues, MoCo losses (VTM + FTM). Off for fine-tuning, as the official MSR-VTT run.")
    queue_size: int = option(1024, "Keys per queue (official --contrast_num_negative); the frame queue holds "
                             "queue_size x frames. The official code needs it to be a multiple of the global "
                             "batch; tvrkit wraps around.", minimum=1)
    momentum: float = option(0.99, "EMA factor of the key encoders, applied before each step's keys are computed "
                             "(official --contrast_momentum).", minimum=0, exclusive_maximum=1)
    temperature: float = option(0.07, "Fixed temperature of the queue contrast (official contrast_temperature).",
                                exclusive_minimum=0)
    frames: int = option(12, "Frame slots per video (official --max_frames): the frame queue keeps every slot of "
                         "queue_size videos; batches must have exactly this many.", minimum=1)
    video_weight: float = option(0.45, "Weight of the video-text queue term VTM (cross_config weight_VTM).",
                                 minimum=0)
    frame_weight: float = option(0.45, "Weight of the frame-text queue term FTM (cross_config weight_FTM).",
                                 minimum=0)


@dataclass(frozen=True)
class HmmcOptions:
    """HMMC's temporal transformer sizes, the top-k frame term, the fine-tune loss weights, the fixed
    logit scale, padding, and the momentum-queue pre-training. Defaults are the official MSR-VTT
    fine-tuning run's (README: --top_frames 2 --max_frames 12 --use_temp --use_frame_fea;
    modules/cross-base/cross_config.json)."""

    temporal_layers: int = option(4, "Depth of the temporal transformer over CLIP frame embeddings (cross_config "
                                  "temporal_hidden_layers); its heads are 64 wide (8 for ViT-B's 512), its weights "
                                  "start random as officially.", minimum=1)
    max_positions: int = option(48, "Frame position embeddings of the temporal transformer (cross_config "
                                "max_position_embeddings): the most frames a video may have.", minimum=1)
    top_frames: int = option(2, "k of the frame-sentence score: mean of the k most similar raw CLIP frames "
                             "(official --top_frames; 2 for MSR-VTT).", minimum=1)
    frame_features: bool = option(True, "Add the top-k frame-sentence score to total and the per-frame term to the "
                                  "loss (official --use_frame_fea); false = video-sentence only.")
    video_weight: float = option(0.85, "Fine-tune loss weight of the video-sentence cross-entropy (cross_config "
                                 "weight_VTM_finetune).", minimum=0)
    frame_weight: float = option(0.15, "Fine-tune loss weight of the mean per-frame cross-entropy (cross_config "
                                 "weight_FTM_finetune).", minimum=0)
    logit_scale: float = option(100.0, "Fixed (never trained) scale of every similarity, in scores and loss: HMMC "
                                "copies CLIP's logit scale as a constant and clamps it at 100.", exclusive_minimum=0)
    padding: str = option("masked", "masked: padding frames take part in no attention, mean, top-k or per-frame "
                          "loss (tvrkit's honest default). unmasked: as the official model, which has no frame "
                          "mask, every frame slot (padding included) goes through CLIP, the temporal transformer, "
                          "the mean and the top-k; only needed to reproduce official numbers on videos with padded "
                          "frames.", choices=("masked", "unmasked"))
    pretrain: HmmcPretrainOptions = option(factory=HmmcPretrainOptions, description="HMMC's momentum-contrast "
                                           "pre-training objective (BirdPreTrainedModel), used instead of the "
                                           "fine-tune loss when enabled. Its FAM and MLM terms are not implemented "
                                           "(docs/methods.md).")


def facts(options: HmmcOptions) -> MethodFacts:
    """HMMC's frame-sentence level exists only with --use_frame_fea."""
    video = ScoreLevel("video_sentence", "100 x unit sentence . unit mean of the temporal transformer's frames")
    frame = ScoreLevel("frame_sentence", "100 x mean of the top_frames best sentence . raw CLIP frame cosines")
    return MethodFacts(
        levels=(video, frame) if options.frame_features else (video,),
        coarse_level="video_sentence / 100 (unit sentence . unit mean of the temporal transformer's frames)",
        temporal=f"HMMC's temporal transformer ({options.temporal_layers} layers, random init)",
    )


METHOD = MethodSpec(
    name="hmmc",
    description="HMMC: video-sentence plus top-k frame-sentence matching (momentum-queue pre-training optional)",
    options=HmmcOptions,
    facts=facts,
    model=".model:HMMC",
)
