"""UCoFiA's two image-side mechanisms (Wang et al., ICCV 2023; both taken over from TS2-Net):

* the **patch shift** (``make_patch_shift`` / ``PatchShiftModule`` in ``train/modules/until_module.py``):
  inside chosen blocks of the image tower, before attention, every ``fold``-th patch token from
  token 1 is replaced by the same token of the previous frame and every ``fold``-th from token 4
  by that of the next frame (``fold = tokens // n_div``), so the attention of those layers sees
  neighbouring frames. It changes only what the attention reads (query, key and value); the
  residual adds the block's unshifted input. tvrkit installs it as a forward pre-hook on the
  blocks' ``attn`` of its open_clip backbone, so open_clip and the parameter names stay as they
  are (the official wrapper renames them ``attn.net.*``; ``map_official`` undoes that).
* the **learned token selector** (``VisualTokenSelection`` with ``PredictorLG`` and the perturbed
  top-k of ``train/modules/differential_topk.py``): a small MLP scores each patch of a frame
  against the frame's CLS token, and the differentiable perturbed top-k (Berthet et al. 2020)
  keeps ``k`` patches: the indicator is the mean over noise samples of the one-hot top-k of
  ``score + sigma * noise`` (indices sorted), its gradient the noise-weighted expectation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tvrkit.errors import ConfigError


class PatchShift:
    """Forward pre-hook for ``nn.MultiheadAttention`` modules of the image tower: shifts patch
    tokens between adjacent frames of each video (see module docstring). The number of frames
    per video is set around each image-tower call with :meth:`frames`."""

    def __init__(self, n_div: int) -> None:
        self.n_div = n_div
        self._frames: int | None = None

    @contextlib.contextmanager
    def frames(self, count: int) -> Iterator[None]:
        """Images passed to the tower inside this block are videos of ``count`` consecutive frames."""
        self._frames = count
        try:
            yield
        finally:
            self._frames = None

    def install(self, blocks: nn.ModuleList, layers: Sequence[int]) -> None:
        """Hook the attention of ``blocks[i]`` for each ``i`` in ``layers`` (negative ``i`` counts
        from the end, as in Python; a block named twice is hooked once)."""
        picked: list[int] = []
        for i in layers:
            if not -len(blocks) <= i < len(blocks):
                raise ConfigError(f"model.ucofia.shift_layers: block {i} does not exist "
                                  f"(the image tower has {len(blocks)} blocks: 0..{len(blocks) - 1}, "
                                  f"or -{len(blocks)}..-1 from the end)")
            index = i % len(blocks)
            if index not in picked:
                picked.append(index)
        for index in picked:
            blocks[index].attn.register_forward_pre_hook(self, with_kwargs=True)

    def shift(self, x: Tensor) -> Tensor:
        """``x [N, L, C]`` (N = videos x frames) -> the shifted tokens."""
        if self._frames is None:
            raise RuntimeError("UCoFiA's patch-shifted image tower was called outside PatchShift.frames()")
        n, length, width = x.shape
        fold = length // self.n_div
        if fold == 0:
            raise ConfigError(f"model.ucofia.shift_div: {self.n_div} exceeds the image tower's {length} tokens")
        x = x.reshape(-1, self._frames, length, width)
        out = x.clone()
        from_prev = torch.arange(1, length, fold, device=x.device)
        from_next = torch.arange(1 + 3, length, fold, device=x.device)
        out[:, 1:, from_prev] = x[:, :-1, from_prev]
        out[:, :-1, from_next] = x[:, 1:, from_next]
        return out.reshape(n, length, width)

    def __call__(self, module: nn.MultiheadAttention, args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        query = args[0] if args else kwargs.pop("query")
        x = query if module.batch_first else query.transpose(0, 1)
        shifted = self.shift(x)
        shifted = shifted if module.batch_first else shifted.transpose(0, 1)
        for name in ("query", "key", "value"):
            kwargs.pop(name, None)
        # The official wrapper attends shifted tokens to shifted tokens (q = k = v).
        return (shifted, shifted, shifted, *args[3:]), kwargs


class _PerturbedTopK(torch.autograd.Function):
    """Mean one-hot top-k of ``scores + sigma * noise`` with the perturbed-optimiser gradient."""

    @staticmethod
    def forward(ctx: Any, scores: Tensor, noise: Tensor, k: int, sigma: float) -> Tensor:
        perturbed = scores.unsqueeze(1) + noise * sigma  # [b, n, d]
        indices = torch.topk(perturbed, k=k, dim=-1, sorted=False).indices.sort(dim=-1).values
        one_hot = F.one_hot(indices, num_classes=scores.shape[-1]).float()  # [b, n, k, d]
        ctx.save_for_backward(one_hot, noise)
        ctx.sigma = sigma
        return one_hot.mean(dim=1)  # [b, k, d]

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None, None]:
        one_hot, noise = ctx.saved_tensors
        expected = torch.einsum("bnkd,bnd->bkd", one_hot, noise.to(one_hot.dtype)) / noise.shape[1] / ctx.sigma
        return torch.einsum("bkd,bkd->bd", grad, expected).to(noise.dtype), None, None, None


def perturbed_topk(scores: Tensor, noise: Tensor, k: int, sigma: float) -> Tensor:
    """``scores [b, d]``, ``noise [b, n, d]`` -> soft indicators ``[b, k, d]`` (rows: the k kept
    positions in index order, each a distribution over the d positions)."""
    return _PerturbedTopK.apply(scores, noise, k, sigma)


class _ScorePredictor(nn.Module):
    """PredictorLG: ``tanh(MLP([h_i, h_cls]))`` with ``h = GELU(W LayerNorm(x))`` per token."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.in_conv = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim // 2, bias=False), nn.GELU())
        self.out_conv = nn.Sequential(
            nn.Linear(dim, dim // 2, bias=False), nn.GELU(), nn.Linear(dim // 2, 1, bias=False), nn.Tanh()
        )

    def forward(self, tokens: Tensor) -> Tensor:
        h = self.in_conv(tokens)
        h = torch.cat([h, h[:, :1].expand_as(h)], dim=-1)
        return self.out_conv(h).squeeze(-1)


class TokenSelector(nn.Module):
    """Keeps each frame's CLS token and the ``k`` patches the learned scores select (soft in
    training and evaluation alike, as the official code computes it)."""

    def __init__(self, dim: int, k: int, num_samples: int, sigma: float, eval_noise_seed: int) -> None:
        super().__init__()
        self.score_predictor = _ScorePredictor(dim)
        for layer in self.score_predictor.modules():
            if isinstance(layer, nn.Linear):  # the official model's init_weights (initializer_range 0.02)
                nn.init.normal_(layer.weight, std=0.02)
        self.k, self.num_samples, self.sigma, self.eval_noise_seed = k, num_samples, sigma, eval_noise_seed
        self._eval_noise: dict[tuple[int, str], Tensor] = {}

    def noise(self, rows: int, patches: int, like: Tensor) -> Tensor:
        """Training: a fresh draw from the global RNG made as the official code makes it (on the
        CPU, then moved), so a seeded run reproduces it. Evaluation: one seeded draw of
        ``num_samples`` rows shared by every frame, so a frame's selection depends on nothing but
        the frame (not on the batch, the device or earlier calls)."""
        if self.training:
            drawn = torch.normal(mean=0.0, std=1.0, size=(rows, self.num_samples, patches))
            return drawn.to(dtype=like.dtype, device=like.device)
        key = (patches, str(like.device))
        if key not in self._eval_noise:
            gen = torch.Generator().manual_seed(self.eval_noise_seed)
            fixed = torch.normal(0.0, 1.0, size=(self.num_samples, patches), generator=gen)
            self._eval_noise[key] = fixed.to(like.device)
        return self._eval_noise[key].to(like.dtype).expand(rows, -1, -1)

    def forward(self, tokens: Tensor) -> Tensor:
        """``tokens [N, 1 + P, D]`` (CLS first) -> ``[N, 1 + k, D]``: CLS, then the k selections."""
        if tokens.shape[1] - 1 < self.k:
            raise ConfigError(f"model.ucofia.topk: {self.k} exceeds the {tokens.shape[1] - 1} patches per frame")
        scores = self.score_predictor(tokens)[:, 1:]
        indicator = perturbed_topk(scores, self.noise(*scores.shape, like=scores), self.k, self.sigma)
        selected = torch.einsum("bkl,bld->bkd", indicator.to(tokens.dtype), tokens[:, 1:])
        return torch.cat([tokens[:, :1], selected], dim=1)
