"""The CLIP backbone: an open_clip model built by architecture name, with local weights loaded
by open_clip's own checkpoint code, exposing the token-level outputs retrieval heads need.

open_clip's ``encode_text`` returns only the pooled sentence and insists on its full context
length (77); retrieval uses shorter captions (``max_words``, 32) and every word token, so the
text path here slices the positional embedding and causal mask to the token length (the same
numbers for every token up to the end token, because attention is causal). The image path asks
open_clip's VisionTransformer for its patch tokens (``output_tokens``), projected like the pooled
frame embedding (UCoFiA's patch features).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import open_clip
import torch
from open_clip.transformer import QuickGELU, text_global_pool
from torch import Tensor, nn

from tvrkit.errors import ConfigError
from tvrkit.models.config import BackboneConfig

log = logging.getLogger(__name__)
MODEL_CONFIG_DIR = Path(__file__).resolve().parent / "model_configs"
PAD_TOKEN = 0  # open_clip's tokenizer pads with 0; start/end tokens are 49406/49407


def shipped_archs() -> tuple[str, ...]:
    """Architectures shipped with tvrkit (``model_configs/*.json``)."""
    return tuple(sorted(p.stem for p in MODEL_CONFIG_DIR.glob("*.json")))


def register_archs() -> None:
    """Make the shipped architectures known to open_clip by name (its own config mechanism)."""
    if not set(shipped_archs()) <= set(open_clip.list_models()):
        open_clip.add_model_config(MODEL_CONFIG_DIR)


def is_torchscript_archive(path: str | Path) -> bool:
    """OpenAI's released ``.pt`` files are TorchScript zips (they hold ``constants.pkl``)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(name.endswith("constants.pkl") for name in zf.namelist())


def is_openai_state_dict(path: str | Path) -> bool:
    """A bare state dict (not open_clip's ``{"state_dict": ...}`` training checkpoint, not
    safetensors) in OpenAI's CLIP layout: how OpenAI's weights travel once converted from the
    TorchScript archive, and how every official method checkpoint stores its CLIP."""
    import torch

    if Path(path).suffix == ".safetensors" or is_torchscript_archive(path):
        return False
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # not a plain tensor pickle: open_clip's loader reports it
        return False
    if not isinstance(state, dict) or "state_dict" in state:
        return False
    keys = {k.removeprefix("module.") for k in state}
    return {"visual.class_embedding", "visual.proj", "text_projection", "token_embedding.weight"} <= keys


def _architecture(cfg: BackboneConfig) -> dict[str, Any]:
    register_archs()
    name = cfg.model_name
    arch = open_clip.get_model_config(name)
    key = "model.backbone.arch" if cfg.arch else "model.backbone.name"
    if arch is None:
        raise ConfigError(f"{key}: unknown open_clip architecture {name!r}")
    vision, text = arch["vision_cfg"], arch["text_cfg"]
    # Heads need frame and patch tokens from a ViT and word tokens from open_clip's own text tower.
    if isinstance(vision.get("layers"), (list, tuple)) or "timm_model_name" in vision:
        raise ConfigError(f"{key}: {name} has no ViT image tower (ResNet/timm towers are not supported)")
    if "hf_model_name" in text or arch.get("custom_text") or "multimodal_cfg" in arch:
        raise ConfigError(f"{key}: {name} has a custom text tower; only CLIP's own text transformer is supported")
    return arch


@contextlib.contextmanager
def _quiet_random_init_warning(active: bool) -> Iterator[None]:
    """open_clip warns "initialized randomly" when it loads no weights itself, also when we load them next."""
    def drop(record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No pretrained weights loaded")

    root = logging.getLogger()
    if active:
        root.addFilter(drop)
    try:
        yield
    finally:
        root.removeFilter(drop)


def create_clip(cfg: BackboneConfig) -> nn.Module:
    """Build the open_clip ``CLIP`` of ``cfg`` and load ``cfg.pretrained`` (a local file) into it."""
    arch = _architecture(cfg)
    path = cfg.pretrained
    if path is not None and not Path(path).is_file():
        raise ConfigError(f"model.backbone.pretrained: no such file {path}")
    openai_archive = path is not None and is_torchscript_archive(path)
    quick_gelu = cfg.quick_gelu
    if quick_gelu is None:  # every OpenAI release was trained with QuickGELU, whatever file it travels in
        openai = openai_archive or (path is not None and is_openai_state_dict(path))
        quick_gelu = openai or bool(arch.get("quick_gelu", False))
        if path is not None:
            log.info("model.backbone.quick_gelu: %s (%s weights in %s); set it to override", quick_gelu,
                     "OpenAI-layout" if openai else "open_clip", path)
    with _quiet_random_init_warning(active=path is not None):
        clip = open_clip.create_model(
            cfg.model_name,
            pretrained=None,
            quick_gelu=quick_gelu,
            vision_cfg={**arch["vision_cfg"], "output_tokens": True},
        )
    if path is not None:
        try:
            with warnings.catch_warnings():
                # TorchScript archives cannot be read with weights_only; torch.load hands them to
                # torch.jit.load, with a warning that says just that.
                warnings.filterwarnings("ignore", message=".*TorchScript archive.*")
                warnings.filterwarnings("ignore", message=".*torch.jit.load.*is deprecated")
                open_clip.load_checkpoint(clip, path, strict=True, weights_only=not openai_archive)
        except (RuntimeError, KeyError, ValueError) as exc:
            raise ConfigError(f"model.backbone.pretrained: {path} does not fit {cfg.model_name}: {exc}") from exc
    return clip


class ClipBackbone(nn.Module):
    """Both CLIP towers. ``encode_text`` -> sentence, word tokens, word mask; ``encode_frames`` ->
    frame embeddings and (optionally) projected patch tokens."""

    def __init__(self, cfg: BackboneConfig) -> None:
        super().__init__()
        self.clip = create_clip(cfg)
        visual = self.clip.visual
        self.embed_dim: int = int(visual.output_dim)
        height, width = visual.image_size
        if height != width:
            raise ConfigError(f"model.backbone: {cfg.model_name} takes non-square {height}x{width} images")
        self.image_size: int = int(height)
        self.context_length: int = int(self.clip.context_length)
        self.text_width: int = int(self.clip.transformer.width)
        self.text_layers: int = len(self.clip.transformer.resblocks)
        self.text_heads: int = int(self.clip.transformer.resblocks[0].attn.num_heads)
        self.quick_gelu: bool = isinstance(self.clip.transformer.resblocks[0].mlp.gelu, QuickGELU)
        # The retrieval model owns its logit scales; a parameter without gradient would also upset DDP.
        self.clip.logit_scale.requires_grad_(False)
        self._freeze(cfg.freeze_layers, cfg.freeze)
        self.clip.set_grad_checkpointing(cfg.grad_checkpointing)

    def _freeze(self, layers: int, rule: str = "tvrkit") -> None:
        """``rule`` tvrkit: the patch embedding and the first ``layers`` image blocks (none for 0).
        ``rule`` clip4clip: the loop of CLIP4Clip's ``main_task_retrieval.py`` (``--freeze_layer_num``,
        also EERCF's and UCoFiA's), which keeps trainable only ``ln_final``, ``text_projection``, the
        logit scale, ``visual.ln_post``, ``visual.proj`` and the blocks from ``layers`` on in both
        towers: even at 0 the token and positional embeddings, the class embedding, ``conv1`` and
        ``ln_pre`` are frozen (27.7M of ViT-B/32's parameters)."""
        towers = (self.clip.transformer, self.clip.visual.transformer)
        total = min(len(t.resblocks) for t in towers) if rule == "clip4clip" else len(towers[1].resblocks)
        if layers > total:
            raise ConfigError(f"model.backbone.freeze_layers: {layers} > the {total} blocks of the "
                              f"{'smaller tower' if rule == 'clip4clip' else 'image tower'}")
        if rule == "clip4clip":
            clip = self.clip
            kept = [clip.ln_final, clip.text_projection, clip.logit_scale, clip.visual.ln_post, clip.visual.proj]
            kept += [block for tower in towers for block in tower.resblocks[layers:]]
            trainable = {id(p) for part in kept for p in (part.parameters() if isinstance(part, nn.Module) else [part])}
            for param in clip.parameters():
                if id(param) not in trainable:
                    param.requires_grad_(False)
        elif layers:
            # open_clip's groups: [patch embedding], block 0, ..., [last block, ln_post], proj.
            self.clip.visual.lock(unlocked_groups=total + 1 - layers)

    def encode_text(self, tokens: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``tokens [B, L]`` (L <= context_length) -> ``sentence [B, D]``, ``words [B, L, D]``, ``mask [B, L]``."""
        clip = self.clip
        length = tokens.shape[1]
        if length > self.context_length:
            raise ValueError(f"{length} tokens exceed the text tower's context length {self.context_length}")
        cast = clip.transformer.get_cast_dtype()
        x = clip.token_embedding(tokens).to(cast) + clip.positional_embedding[:length].to(cast)
        mask = None if clip.attn_mask is None else clip.attn_mask[:length, :length]
        x = clip.ln_final(clip.transformer(x, attn_mask=mask))
        words = clip.text_projection(x) if isinstance(clip.text_projection, nn.Linear) else x @ clip.text_projection
        # Pooling after the (linear) projection equals open_clip's pool-then-project.
        sentence = text_global_pool(words, tokens, clip.text_pool_type, clip.text_eos_id)
        if self.stored_in_fp16:  # as the references' .float() after their fp16 CLIP
            sentence, words = sentence.float(), words.float()
        return sentence, words, tokens != PAD_TOKEN

    def encode_frames(self, images: Tensor, with_patches: bool) -> tuple[Tensor, Tensor | None]:
        """``images [N, 3, H, W]`` -> ``frames [N, D]`` and, if asked, ``patches [N, P, D]``."""
        visual = self.clip.visual
        fp16 = self.stored_in_fp16
        pooled, tokens = visual(images.half() if fp16 else images)
        patches = tokens @ visual.proj if with_patches else None
        if fp16:
            pooled, patches = pooled.float(), None if patches is None else patches.float()
        return pooled, patches

    @property
    def stored_in_fp16(self) -> bool:
        """Whether the towers' weights are fp16 (``train.precision: fp16-reference``, OpenAI's
        ``convert_weights``): frames then enter in fp16 and both towers' outputs leave in fp32."""
        return self.clip.visual.conv1.weight.dtype == torch.float16
