"""T-MASS as Jiamian-Wang/T-MASS-text-video-retrieval (417fdf1) computes it, on X-Pool's pooling.

A text is a "mass": its CLIP sentence embedding ``t`` moved by noise scaled by a radius that depends
on how the text matches each frame of the video it is compared with
(``modules/stochastic_module.py``, ``LinearCosRadius`` and ``StochasticText``)::

    c_f          = cos(t, v_f)                              f = 1..max_frames, CLIP frame embeddings
    log_var(t,v) = W c + b                                  W [D, max_frames], identity-initialised
    s(t,v)       = t + sigma * exp(log_var(t,v))            sigma ~ U[0,1)^D, or N(0, prior_std^2)^D
    p(v|t)       = X-Pool's pooling of v's frames conditioned on t   (model/clip_stochastic.py)

Scores (``model.score``):

- ``deterministic`` = cos(t, p(v|t)), no sampling (X-Pool's score on T-MASS's weights);
- ``total`` = max over ``trials`` draws of cos(s(t,v), p(v|t)): the official test's trial choice
  (``trainer/trainer_stochastic.py:183-209``: per candidate video, the draw closest to the video
  pooled by the query is kept), scored against that same pooled video. One fixed bank of ``trials``
  noise vectors drawn from ``model.tmass.seed`` serves every (text, video) pair, so a pair's score
  never depends on the gallery, the block size or the caller's random state (the official test
  draws fresh noise per pair and per run).

The official metric instead scores each query against each candidate pooled by *that candidate's
own* caption (``modules/metrics.py:79-89`` reads its ``[videos, texts, D]`` tensor with the axes
swapped after ``generate_embeds_per_video_id_stochastic``): :meth:`TMASS.ground_truth_leak_scores`
reproduces it for comparison only.

Training (``trainer_stochastic.py:51-63``, ``modules/loss.py``): with the radius of each text and
its own video, ``sims[i, j] = cos(s_i, p(v_j|t_i))`` and the symmetric cross-entropy at CLIP's
logit scale; the support text ``t_i + exp(log_var_i) * unit(mean_k p(v_i|t_k) - t_i)`` adds
``support_loss_weight`` times the same loss. The training noise comes from the global generator,
as officially. Padded frames give the radius no evidence (cosine 0) and take no part in the pooling;
the official loader never pads.

Checkpoints: ``{"epoch", "state_dict", "optimizer"}`` as its trainer saves them (``model_best.pth``,
``checkpoint-epoch*.pth``): ``clip.*`` a Hugging Face CLIPModel (``position_ids`` buffers dropped),
``pool_frames.*`` X-Pool's pooling, ``stochastic.std_branch.linear_proj.*`` the radius;
``stochastic.std_branch.learnable_scalar`` is never read by the official forward and is dropped.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tvrkit.models.config import ModelConfig
from tvrkit.models.features import TextFeatures, VideoFeatures
from tvrkit.models.methods.clip4clip.model import clip_contrastive
from tvrkit.models.methods.layouts import rename
from tvrkit.models.methods.tmass import TmassOptions
from tvrkit.models.methods.xpool.model import XPool
from tvrkit.models.ops import l2norm

RADIUS_KEYS = {"stochastic.std_branch.linear_proj.": "radius_proj."}
UNUSED_OFFICIAL = "stochastic.std_branch.learnable_scalar"


def trial_cosines(sentence: Tensor, pooled: Tensor, std: Tensor, draws: Tensor) -> Tensor:
    """``cos(t + sigma_k * std, p)`` of every draw: ``sentence [n, D]``, ``pooled`` and ``std``
    ``[n, v, D]``, ``draws`` ``[k, D]`` (one bank for every pair) or ``[k, n, v, D]`` (one per pair,
    as the official test draws them) -> ``[k, n, v]``. Expanded so that the ``[k, n, v, D]``
    embeddings are never built for a bank: ``(t + s.std).p / |t + s.std|`` as sums over D."""

    def project(noise: Tensor, x: Tensor) -> Tensor:
        return torch.einsum("kd,nvd->knv", noise, x) if noise.dim() == 2 else (noise * x).sum(-1)

    unit = l2norm(pooled)
    text = sentence[:, None, :]
    dot = (text * unit).sum(-1) + project(draws, std * unit)
    square = (text * text).sum(-1) + 2 * project(draws, std * text) + project(draws * draws, std * std)
    return dot / square.clamp_min(1e-24).sqrt()


class TMASS(XPool):
    """``model.method: tmass`` (see the module docstring for the math and the checkpoint layout)."""

    name = "tmass"

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)  # X-Pool's pooling from this method's heads and dropout
        self.opts: TmassOptions = cfg.options
        self.radius_proj = nn.Linear(self.opts.max_frames, self.embed_dim)
        nn.init.eye_(self.radius_proj.weight)  # the official _init_parameters
        nn.init.zeros_(self.radius_proj.bias)

    def encode_video(self, frames: Tensor, frame_mask: Tensor) -> VideoFeatures:
        if frame_mask.shape[1] != self.opts.max_frames:
            raise ValueError(f"model.tmass.max_frames is {self.opts.max_frames}; this batch has {frame_mask.shape[1]} "
                             "frame slots (set data.max_frames to the same value)")
        return super().encode_video(frames, frame_mask)

    # ---- the stochastic text --------------------------------------------------------------
    def radius(self, sentence: Tensor, frames: Tensor, frame_mask: Tensor, paired: bool = False) -> Tensor:
        """``log_var``: ``[n, v, D]`` for every text with every video, or ``[n, D]`` for text ``i``
        with video ``i`` (``paired``, as in training)."""
        pattern = "nd,ntd->nt" if paired else "nd,vtd->nvt"
        cosine = torch.einsum(pattern, l2norm(sentence), l2norm(frames))
        return self.radius_proj(cosine.masked_fill(~(frame_mask if paired else frame_mask[None]), 0.0))

    def draw_noise(self, shape: tuple[int, ...], generator: torch.Generator | None = None) -> Tensor:
        """Noise of the configured prior on the CPU, from ``generator`` (the global one if None)."""
        if self.opts.prior == "normal":
            return torch.normal(0.0, self.opts.prior_std, shape, generator=generator)
        return torch.rand(shape, generator=generator)

    def evaluation_draws(self) -> Tensor:
        """The bank ``[trials, D]`` every evaluation uses: drawn from ``seed`` by a private generator."""
        generator = torch.Generator().manual_seed(self.opts.seed)
        return self.draw_noise((self.opts.trials, self.embed_dim), generator)

    # ---- scores -----------------------------------------------------------------------------
    def _pooled(self, text: TextFeatures, video: VideoFeatures) -> Tensor:
        """``p(v|t)`` ``[n, v, D]``."""
        return self.pool(text.sentence, video.raw_frames, video.frame_mask).transpose(0, 1)

    def _std(self, text: TextFeatures, video: VideoFeatures) -> Tensor:
        """``exp(log_var)`` ``[n, v, D]``."""
        return self.radius(text.sentence, video.raw_frames, video.frame_mask).exp()

    def trial_scores(self, text: TextFeatures, video: VideoFeatures, draws: Tensor | None = None) -> Tensor:
        """``total`` ``[n, v]``: the best of the trials, with ``draws`` (``[k, D]`` or ``[k, n, v, D]``,
        e.g. the official test's recorded noise) or the seeded evaluation bank."""
        pooled = self._pooled(text, video)
        bank = self.evaluation_draws() if draws is None else draws
        return trial_cosines(text.sentence, pooled, self._std(text, video), bank.to(pooled)).amax(0)

    def score_block(self, text: TextFeatures, video: VideoFeatures, names: tuple[str, ...]) -> dict[str, Tensor]:
        pooled = self._pooled(text, video)
        out = {"deterministic": torch.einsum("nd,nvd->nv", l2norm(text.sentence), l2norm(pooled))}
        if "total" in names:
            bank = self.evaluation_draws().to(pooled)
            out["total"] = trial_cosines(text.sentence, pooled, self._std(text, video), bank).amax(0)
        return out

    @torch.no_grad()
    def ground_truth_leak_scores(self, text: TextFeatures, video: VideoFeatures, text_video: Tensor,
                                 draws: Tensor | None = None) -> Tensor:
        """The official test's matrix ``[Nt, Nv]``, for comparison only (never rank by it): query
        ``q``, the ``m``-th caption of its video, is scored with its trial-chosen stochastic
        embedding against candidate ``j`` pooled by ``j``'s own ``m``-th caption (its ground truth;
        NaN where ``j`` has no ``m``-th caption). ``text_video [Nt]``: the video index of each caption.
        Holds ``[Nt, Nv, D]`` tensors: meant for test-sized galleries."""
        pooled, std = self._pooled(text, video), self._std(text, video)
        bank = (self.evaluation_draws() if draws is None else draws).to(pooled)
        best = trial_cosines(text.sentence, pooled, std, bank).argmax(0)  # [n, v]
        chosen = bank[best] if bank.dim() == 2 else bank.gather(0, best[None, ..., None].expand_as(bank[:1]))[0]
        stochastic = l2norm(text.sentence[:, None, :] + chosen * std)  # [n, v, D]
        text_video = text_video.to(pooled.device)
        earlier = (text_video[None, :] == text_video[:, None]).tril(-1).sum(1)  # m of each caption
        captions = torch.full((len(video), int(earlier.max()) + 1), -1, dtype=torch.long, device=pooled.device)
        captions[text_video, earlier] = torch.arange(len(text_video), device=pooled.device)
        own = captions[:, earlier].T  # [n, v]: candidate j's m-th caption for query q
        candidates = torch.arange(len(video), device=pooled.device)[None].expand_as(own)
        own_pooled = l2norm(pooled[own.clamp_min(0), candidates])
        scores = (stochastic * own_pooled).sum(-1)
        return scores.masked_fill(own < 0, float("nan")).float()

    # ---- training ---------------------------------------------------------------------------
    def loss(self, text: TextFeatures, video: VideoFeatures) -> tuple[Tensor, dict[str, float]]:
        text, video = self.gather(text, video)
        sentence, frames, mask = text.sentence, video.raw_frames, video.frame_mask
        pooled = self.pool(sentence, frames, mask)  # [v, n, D]: video j pooled by text i at [j, i]
        std = self.radius(sentence, frames, mask, paired=True).exp()
        noise = self.draw_noise(tuple(sentence.shape)).to(sentence)
        unit_pooled = l2norm(pooled)
        stochastic, parts = clip_contrastive(
            self.backbone, torch.einsum("nd,vnd->nv", l2norm(sentence + noise * std), unit_pooled))
        parts = {"stochastic": parts["loss"], "logit_scale": parts["logit_scale"]}
        if self.opts.support_loss_weight == 0:
            return stochastic, parts
        support = sentence + l2norm(pooled.mean(dim=1) - sentence) * std
        support_loss, _ = clip_contrastive(self.backbone, torch.einsum("nd,vnd->nv", l2norm(support), unit_pooled))
        parts["support"] = float(support_loss.detach())
        return stochastic + self.opts.support_loss_weight * support_loss, parts

    # ---- official checkpoints ---------------------------------------------------------------
    @classmethod
    def looks_like(cls, state: dict[str, Tensor]) -> bool:
        return "stochastic.std_branch.linear_proj.weight" in state and super().looks_like(state)

    @classmethod
    def map_official(cls, state: dict[str, Tensor], cfg: ModelConfig) -> dict[str, Tensor]:
        """X-Pool's mapping (``clip.*``, ``pool_frames.*``) and ``stochastic.std_branch.linear_proj.*``
        -> ``radius_proj.*``."""
        stochastic = {k: v for k, v in state.items() if k.startswith("stochastic.")}
        rest = {k: v for k, v in state.items() if k not in stochastic}
        stochastic.pop(UNUSED_OFFICIAL, None)
        return {**super().map_official(rest, cfg), **rename(stochastic, RADIUS_KEYS)}
