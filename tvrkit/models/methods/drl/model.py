"""DRL's weighted token-wise interaction (Wang et al., 2022), as foolwood/DRL computes it with
``--interaction wti --wti_arch 2``; with ``model.drl.cdcr: false`` it is BackBone_tvr
(shallowdream66/BackBone_tvr), the same model without the decorrelation term.

    w_t = softmax over real words (MLP_t(word_t)),   w_f = softmax over real frames (MLP_f(frame_f))
    total = 1/2 [ sum_t w_t max_f <word_t, frame_f> + sum_f w_f max_t <word_t, frame_f> ]

Words are CLIP's projected text tokens (start token, words and end token), frames the temporal
module's outputs (``model.drl.temporal``: seqTransf in the recipe, ``--agg_module``); the token weights
come from the unnormalised features through ``Linear-ReLU-Linear`` MLPs (initialised N(0, 0.02),
zero bias, as the official ``init_weights``), the similarities from unit vectors. ``total`` is
what the official evaluation ranks by (no logit scale). The loss is the symmetric cross-entropy
of ``logit_scale * total`` over the batch (CLIP's logit scale, clamped at 100), plus, when
``cdcr`` is on, ``cdcr_lambda * (cdcr_alpha1 on-diagonal + cdcr_alpha2 off-diagonal)`` of the
weighted cross-correlation of every real word with its best frame and every real frame with its
best word (``--cdcr 3``, :func:`decorrelation_loss`).

``model.drl.padding: official`` reproduces the official maxima, where similarities with padded
tokens are 0 and take part (tvrkit's default excludes them). BackBone_tvr fills the weight
logits of padded tokens with -9e15 instead of DRL's -inf: the same softmax.

Features (cacheable): ``TextFeatures.sentence``, ``words``, ``word_mask``; ``VideoFeatures.frames``
(after the temporal module) and ``frame_mask``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tvrkit.models.config import ModelConfig
from tvrkit.models.features import TextFeatures, VideoFeatures
from tvrkit.models.losses import channel_correlation, decorrelation_penalty
from tvrkit.models.methods.base import Method
from tvrkit.models.methods.clip4clip.model import clip_contrastive, map_clip_and_temporal
from tvrkit.models.ops import embed_frames, l2norm, masked_softmax, weighted_token_interaction
from tvrkit.models.temporal import build_temporal

WEIGHT_KEYS = {"text_weight_fc.": "interaction.text_weight.", "video_weight_fc.": "interaction.video_weight."}


def _weight_mlp(dim: int) -> nn.Module:
    # DRL's wti_arch=2 weight branch: one hidden layer of the embedding width.
    return nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, 1))


class TokenInteraction(nn.Module):
    """Weighted token-wise interaction between text tokens and video tokens, ``[Nt, Nv]``: token
    weights come from the raw (unnormalised) token features, similarities from unit tokens."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.text_weight = _weight_mlp(dim)
        self.video_weight = _weight_mlp(dim)

    def weights(self, tokens: Tensor, mask: Tensor, text: bool) -> Tensor:
        mlp = self.text_weight if text else self.video_weight
        return masked_softmax(mlp(tokens).squeeze(-1), mask)

    def forward(
        self, words: Tensor, word_mask: Tensor, tokens: Tensor, token_mask: Tensor, zero_padding: bool = False
    ) -> Tensor:
        return weighted_token_interaction(
            l2norm(words), word_mask, self.weights(words, word_mask, text=True),
            l2norm(tokens), token_mask, self.weights(tokens, token_mask, text=False),
            zero_padding=zero_padding,
        )


def decorrelation_loss(
    text: TextFeatures,
    video: VideoFeatures,
    interaction: TokenInteraction,
    off_diagonal: float,
    on_diagonal: float = 1.0,
    zero_padding: bool = False,
) -> Tensor:
    """DRL's channel-decorrelation regulariser (``--cdcr 3``) on the matching pairs (row i with row i):
    every valid word is paired with its most similar frame and every valid frame with its most
    similar word, weighted by the interaction's token weights, and the two correlation matrices are
    averaged. Zero for a single pair (no statistics). ``zero_padding``: DRL's own argmax over
    similarities zeroed at padded tokens, where a padded token wins when every real one is negative
    (as in :func:`~tvrkit.models.ops.weighted_token_interaction`)."""
    batch = len(text)
    if batch < 2:
        return text.sentence.new_zeros(())
    words, frames = l2norm(text.words), l2norm(video.frames)
    word_mask, frame_mask = text.word_mask, video.frame_mask
    sim = torch.einsum("bld,btd->blt", words, frames)
    if zero_padding:
        sim = sim * (word_mask[:, :, None] & frame_mask[:, None, :]).to(sim.dtype)
        best_frame, best_word = sim.argmax(-1), sim.argmax(-2)
    else:
        best_frame = sim.masked_fill(~frame_mask[:, None, :], float("-inf")).argmax(-1)  # [B, L]
        best_word = sim.masked_fill(~word_mask[:, :, None], float("-inf")).argmax(-2)  # [B, T]
    rows = torch.arange(batch, device=sim.device)[:, None]
    word_weights = interaction.weights(text.words, word_mask, text=True)
    frame_weights = interaction.weights(video.frames, frame_mask, text=False)
    t2v = channel_correlation(words[word_mask], frames[rows, best_frame][word_mask], word_weights[word_mask], batch)
    v2t = channel_correlation(frames[frame_mask], words[rows, best_word][frame_mask], frame_weights[frame_mask], batch)
    return decorrelation_penalty((t2v + v2t) / 2, off_diagonal, on_diagonal)


class DRL(Method):
    """DRL's WTI (and BackBone_tvr's); see the module docstring for the score and the features."""

    name = "drl"

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        self.opts = cfg.options
        self.temporal = build_temporal(self.opts.temporal, self.backbone)
        self.interaction = TokenInteraction(self.embed_dim)
        for module in self.interaction.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
        self.backbone.clip.logit_scale.requires_grad_(True)  # trained in the backbone's group, as officially

    @property
    def zero_padding(self) -> bool:
        return self.opts.padding == "official"

    def encode_text(self, tokens: Tensor) -> TextFeatures:
        sentence, words, word_mask = self.backbone.encode_text(tokens)
        return TextFeatures(sentence=sentence, words=words, word_mask=word_mask)

    def encode_video(self, frames: Tensor, frame_mask: Tensor) -> VideoFeatures:
        raw, mask = embed_frames(self.backbone, frames, frame_mask)
        return VideoFeatures(frames=self.temporal(raw, mask), frame_mask=mask)

    def _wti(self, text: TextFeatures, video: VideoFeatures) -> Tensor:
        return self.interaction(text.words, text.word_mask, video.frames, video.frame_mask, self.zero_padding)

    def score_block(self, text: TextFeatures, video: VideoFeatures, names: tuple[str, ...]) -> dict[str, Tensor]:
        wti = self._wti(text, video)
        return {"frame_word": wti, "total": wti}

    def loss(self, text: TextFeatures, video: VideoFeatures) -> tuple[Tensor, dict[str, float]]:
        text, video = self.gather(text, video)
        loss, logs = clip_contrastive(self.backbone, self._wti(text, video))
        logs["contrastive"] = logs["loss"]
        opts = self.opts
        if opts.cdcr:
            cdcr = decorrelation_loss(text, video, self.interaction, off_diagonal=opts.cdcr_alpha2,
                                      on_diagonal=opts.cdcr_alpha1, zero_padding=self.zero_padding)
            loss = loss + opts.cdcr_lambda * cdcr
            logs["cdcr"] = float(cdcr.detach())
        logs["loss"] = float(loss.detach())
        return loss, logs

    @classmethod
    def looks_like(cls, state: dict[str, Tensor]) -> bool:
        """A ``clip.*`` CLIP, the two weight MLPs, and nothing else but the temporal module."""
        if "clip.visual.proj" not in state or "text_weight_fc.0.weight" not in state:
            return False
        own = ("clip.", "frame_position_embeddings.", "transformerClip.", "text_weight_fc.", "video_weight_fc.")
        return all(k.startswith(own) for k in state)

    @classmethod
    def map_official(cls, state: dict[str, Tensor], cfg: ModelConfig) -> dict[str, Tensor]:
        return map_clip_and_temporal(state, WEIGHT_KEYS)
