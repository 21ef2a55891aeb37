"""Quick in-training validation: embed one split with the model's global (video-sentence)
level and score text-to-video retrieval with :mod:`tvrkit.retrieval.metrics`.

This is what picks ``best.pt``; the full multi-level, post-processed evaluation is
``tvrkit eval``. Each rank embeds its own block of videos and texts; blocks are gathered
in rank order, so every rank computes the same metrics from the same matrix whatever the
number of ranks. A text whose video could not be read ranks last (it still counts).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from tvrkit import dist
from tvrkit.data.batch_samplers import eval_block
from tvrkit.data.config import DataConfig
from tvrkit.data.device import DeviceBatches
from tvrkit.data.loader import build_video_loader, split_texts
from tvrkit.retrieval.metrics import summarize, t2v_problem, with_missing_last


def _gather_rows(ids: list[str], emb: list[torch.Tensor]) -> tuple[list[str], np.ndarray]:
    """Concatenate every rank's (ids, embeddings) in rank order (a rank may have none)."""
    parts = dist.all_gather_object((ids, torch.cat(emb).numpy() if emb else None))
    arrays = [e for _, e in parts if e is not None]
    if not arrays:
        raise ValueError("nothing of the split could be embedded")
    return [i for part_ids, _ in parts for i in part_ids], np.concatenate(arrays)


def embed_videos(model: nn.Module, cfg: DataConfig, split: str, image_size: int,
                 device: torch.device) -> tuple[list[str], list[torch.Tensor]]:
    """This rank's videos of ``split``: ids and global embeddings."""
    ids, emb = [], []
    for batch in DeviceBatches(build_video_loader(cfg, split, image_size, device), device):
        if not batch["video_ids"]:
            continue  # every video of the batch was unreadable
        feats = model.encode_video(batch["frames"], batch["frame_mask"])
        emb.append(model.global_embeddings(feats).float().cpu())
        ids += list(batch["video_ids"])
    return ids, emb


def embed_texts(model: nn.Module, tokens: torch.Tensor, batch_size: int, device: torch.device) -> list[torch.Tensor]:
    """Global embeddings of ``tokens`` in batches."""
    return [model.global_embeddings(model.encode_text(tokens[i:i + batch_size].to(device))).float().cpu()
            for i in range(0, len(tokens), batch_size)]


def t2v_metrics(text_emb: np.ndarray, video_emb: np.ndarray, text_video_ids: list[str],
                video_ids: list[str]) -> dict[str, float]:
    """Text-to-video R@K/MdR/MnR; texts whose video has no embedding rank last."""
    column = {v: j for j, v in enumerate(video_ids)}
    missing = np.array([v not in column for v in text_video_ids], dtype=bool)
    targets = np.array([column.get(v, 0) for v in text_video_ids], dtype=np.int64)
    counts = t2v_problem(text_emb @ video_emb.T, targets).counts()
    n_gallery = len(video_ids) + len({v for v, m in zip(text_video_ids, missing, strict=True) if m})
    return summarize(with_missing_last(counts, missing, n_gallery))


@torch.no_grad()
def validate(model: nn.Module, cfg: DataConfig, split: str, image_size: int, device: torch.device) -> dict[str, Any]:
    """t2v metrics of ``split`` (collective: every rank must call it; all get the same dict)."""
    video_ids, video_emb = embed_videos(model, cfg, split, image_size, device)
    texts = split_texts(cfg, split)
    block = eval_block(len(texts.caption_ids), dist.get_rank(), dist.get_world_size())
    text_emb = embed_texts(model, texts.tokens[block.start:block.stop], cfg.eval_batch_size, device)
    all_video_ids, videos = _gather_rows(video_ids, video_emb)
    _, text_matrix = _gather_rows(list(texts.caption_ids[block.start:block.stop]), text_emb)
    metrics = t2v_metrics(text_matrix, videos, list(texts.video_ids), all_video_ids)
    return {**metrics, "videos": float(len(all_video_ids)), "texts": float(len(texts.caption_ids))}
