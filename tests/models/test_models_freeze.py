"""``model.backbone.freeze: clip4clip``: the parameter set CLIP4Clip's freeze loop leaves trainable,
against that loop run on the same CLIP.

The loop (ArrowLuo/CLIP4Clip ``main_task_retrieval.py`` lines 476-492 at 508ffa3, the same in EERCF
``main_eercf.py`` 692-708 and UCoFiA ``main_ucofia.py`` 448-464) is written here from reading it: for
each ``(name, param)`` of ``model.clip``, names starting with ``ln_final.``, ``text_projection``,
``logit_scale``, ``visual.ln_post.`` or ``visual.proj`` stay trainable, blocks
``visual.transformer.resblocks.N`` / ``transformer.resblocks.N`` stay trainable when ``N >=
freeze_layer_num``, and every other parameter gets ``requires_grad = False``. open_clip names CLIP's
parameters as OpenAI's code does, so the loop runs on tvrkit's CLIP unchanged.
"""

from __future__ import annotations

import pytest
from torch import nn

from tvrkit.errors import ConfigError
from tvrkit.models.backbone import ClipBackbone, create_clip
from tvrkit.models.config import BackboneConfig

KEPT_PREFIXES = ("ln_final.", "text_projection", "logit_scale", "visual.ln_post.", "visual.proj")


def official_frozen(clip: nn.Module, freeze_layer_num: int) -> set[str]:
    """The names CLIP4Clip's loop freezes (see the module docstring)."""
    frozen = set()
    for name, _ in clip.named_parameters():
        if name.startswith(KEPT_PREFIXES):
            continue
        if name.startswith(("visual.transformer.resblocks.", "transformer.resblocks.")):
            if int(name.split(".resblocks.")[1].split(".")[0]) >= freeze_layer_num:
                continue
        frozen.add(name)
    return frozen


@pytest.mark.parametrize("layers", [0, 1, 2])
def test_clip4clip_rule_freezes_what_the_official_loop_freezes(layers):
    cfg = BackboneConfig(arch="tvrkit-tiny", freeze_layers=layers, freeze="clip4clip")
    backbone = ClipBackbone(cfg)
    frozen = {n for n, p in backbone.clip.named_parameters() if not p.requires_grad}
    expected = official_frozen(create_clip(cfg), layers)
    # tvrkit's backbone never trains CLIP's own logit scale (each method owns its scale), under every rule
    assert frozen - {"logit_scale"} == expected
    if layers == 0:
        assert expected == {"token_embedding.weight", "positional_embedding", "visual.class_embedding",
                            "visual.positional_embedding", "visual.conv1.weight", "visual.ln_pre.weight",
                            "visual.ln_pre.bias"}


def test_tvrkit_rule_keeps_its_meaning_and_clip4clip_checks_both_towers():
    untouched = ClipBackbone(BackboneConfig(arch="tvrkit-tiny"))
    assert {n for n, p in untouched.clip.named_parameters() if not p.requires_grad} == {"logit_scale"}
    one = ClipBackbone(BackboneConfig(arch="tvrkit-tiny", freeze_layers=1))
    frozen = {n for n, p in one.clip.named_parameters() if not p.requires_grad}
    assert "visual.conv1.weight" in frozen and "token_embedding.weight" not in frozen
    assert not any(n.startswith("transformer.") for n in frozen)  # the text tower trains
    with pytest.raises(ConfigError, match="freeze_layers: 3 > the 2 blocks"):
        ClipBackbone(BackboneConfig(arch="tvrkit-tiny", freeze_layers=3, freeze="clip4clip"))
