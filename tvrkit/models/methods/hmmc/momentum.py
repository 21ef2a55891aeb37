"""HMMC's momentum contrast (its pre-training, BirdPreTrainedModel): an exponential-moving-average
copy of the encoders produces keys, and queues of keys from earlier steps supply negatives.

HMMC calls :meth:`MomentumContrast.update` before computing keys, as MoCo and HMMC's
``_momentum_update`` do, then :meth:`MomentumContrast.enqueue` after its loss, and scores with
:func:`queue_contrast` (positive key plus queue negatives at a fixed temperature). Queues are
filled with keys gathered from every rank, so they stay identical on all ranks.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tvrkit.models.features import VideoFeatures
from tvrkit.models.ops import l2norm


class MomentumContrast(nn.Module):
    """The key encoder (a frozen copy of ``encoder`` moved towards it) and the text, video and
    (``frames > 0``) frame key queues."""

    def __init__(self, encoder: nn.Module, dim: int, queue_size: int, momentum: float, frames: int = 0) -> None:
        """``encoder`` has ``encode_text(tokens)`` and ``encode_video(frames, mask)``; ``frames > 0``
        adds a queue of ``queue_size * frames`` frame keys."""
        super().__init__()
        self.momentum = momentum
        self.key_encoder = copy.deepcopy(encoder)
        self.key_encoder.requires_grad_(False)
        # MoCo starts from random unit keys: early negatives are uninformative but harmless.
        self.register_buffer("text_queue", l2norm(torch.randn(queue_size, dim)))
        self.register_buffer("video_queue", l2norm(torch.randn(queue_size, dim)))
        self.frames = frames
        if frames:
            self.register_buffer("frame_queue", l2norm(torch.randn(queue_size * frames, dim)))
        self.register_buffer("pointer", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def text_keys(self, tokens: Tensor) -> Tensor:
        return l2norm(self.key_encoder.encode_text(tokens).sentence)

    @torch.no_grad()
    def video_features(self, frames: Tensor, frame_mask: Tensor) -> VideoFeatures:
        return self.key_encoder.encode_video(frames, frame_mask)

    @torch.no_grad()
    def enqueue(self, text_keys: Tensor, video_keys: Tensor, frame_keys: Tensor | None = None) -> None:
        """Replace the oldest keys by this step's gathered ones: ``[B, D]`` each, ``frame_keys [B, T, D]``
        (all ``T = frames`` of each video, in order) when there is a frame queue."""
        size = self.text_queue.shape[0]
        keys = min(size, text_keys.shape[0])
        slots = (self.pointer + torch.arange(keys, device=self.pointer.device)) % size
        self.text_queue[slots] = text_keys[-keys:].to(self.text_queue.dtype)
        self.video_queue[slots] = video_keys[-keys:].to(self.video_queue.dtype)
        if self.frames:
            frame_slots = (slots[:, None] * self.frames + torch.arange(self.frames, device=slots.device)).flatten()
            self.frame_queue[frame_slots] = frame_keys[-keys:].reshape(-1, frame_keys.shape[-1]).to(
                self.frame_queue.dtype)
        self.pointer.fill_(int((self.pointer + keys) % size))

    @torch.no_grad()
    def update(self, encoder: nn.Module) -> None:
        """Move the key encoder towards ``encoder``: ``key = momentum * key + (1 - momentum) * online``."""
        online = dict(encoder.named_parameters())
        for name, param in self.key_encoder.named_parameters():
            param.lerp_(online[name].detach(), 1 - self.momentum)
        online_buffers = dict(encoder.named_buffers())
        for name, buffer in self.key_encoder.named_buffers():
            buffer.copy_(online_buffers[name])


def queue_contrast(query: Tensor, keys: Tensor, queue: Tensor, temperature: float) -> Tensor:
    """HMMC's ``contrastive_loss`` (MoCo): each unit ``query[i]`` against its own unit key
    ``keys[i]`` and the queue's keys only (no other key of the batch), logits divided by the fixed
    ``temperature``, cross-entropy with the positive as the label."""
    query, keys = l2norm(query.float()), l2norm(keys.float())
    positive = (query * keys).sum(-1, keepdim=True)
    logits = torch.cat([positive, query @ queue.detach().clone().float().T], dim=1) / temperature
    return F.cross_entropy(logits, torch.zeros(len(query), dtype=torch.long, device=query.device))
