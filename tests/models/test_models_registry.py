"""The method registry: a method is one package found by itself (adding one edits no other file),
its options and facts load without torch, and nothing outside ``tvrkit/models`` reads a method's
options or the removed composable model's fields."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest
import torch
from repo_paths import REPO

import tvrkit.models.methods as methods
from tvrkit.errors import ConfigError
from tvrkit.models import build_model, load_model_config, method_facts, method_names

ROOT = REPO

TOY_INIT = '''
from dataclasses import dataclass
from tvrkit.config.options import option
from tvrkit.models.methods import MethodFacts, MethodSpec, ScoreLevel

@dataclass(frozen=True)
class ToyOptions:
    """A toy method's options."""
    scale: float = option(2.0, "Multiplies the cosine.", exclusive_minimum=0)

METHOD = MethodSpec(name="toy", description="toy: scaled cosine", options=ToyOptions,
                    facts=MethodFacts(levels=(ScoreLevel("video_sentence", "scaled cosine"),),
                                      coarse_level="cosine", total_is_global=True),
                    model=".model:Toy")
'''
TOY_MODEL = '''
from tvrkit.models.features import TextFeatures, VideoFeatures
from tvrkit.models.losses import symmetric_infonce
from tvrkit.models.methods.base import Method
from tvrkit.models.ops import embed_frames

class Toy(Method):
    name = "toy"

    def encode_text(self, tokens):
        return TextFeatures(sentence=self.backbone.encode_text(tokens)[0])

    def encode_video(self, frames, frame_mask):
        raw, mask = embed_frames(self.backbone, frames, frame_mask)
        return VideoFeatures(frames=raw, frame_mask=mask)

    def score_block(self, text, video, names):
        cos = self.global_embeddings(text) @ self.global_embeddings(video).T
        return {"video_sentence": cos, "total": self.cfg.options.scale * cos}

    def loss(self, text, video):
        text, video = self.gather(text, video)
        loss = symmetric_infonce(self.score_block(text, video, ())["total"], 1.0)
        return loss, {"loss": float(loss)}
'''


@pytest.fixture
def toy_method(tmp_path, monkeypatch):
    package = tmp_path / "toy"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(TOY_INIT))
    (package / "model.py").write_text(textwrap.dedent(TOY_MODEL))
    monkeypatch.setattr(methods, "__path__", [*methods.__path__, str(tmp_path)])
    methods.refresh()
    yield "toy"
    monkeypatch.undo()
    for name in [m for m in sys.modules if m.startswith("tvrkit.models.methods.toy")]:
        del sys.modules[name]
    methods.refresh()


def test_a_method_package_registers_itself_config_schema_and_model(toy_method):
    from model_testdata import frames, mask, tokens

    assert toy_method in method_names()
    cfg = load_model_config(base={"method": "toy", "backbone": {"arch": "tvrkit-tiny"}}, overrides=["toy.scale=3"])
    assert cfg.options.scale == 3.0 and method_facts(cfg).coarse_level == "cosine"
    with pytest.raises(ConfigError, match="toy.scale"):
        load_model_config(base={"method": "toy", "toy": {"scale": 0}})
    with pytest.raises(ConfigError, match="unknown key toy.width"):
        load_model_config(base={"method": "toy", "toy": {"width": 1}})
    model = build_model(cfg).eval()
    with torch.no_grad():
        scores = model.score(model.encode_text(tokens(2)), model.encode_video(frames(3, 2), mask([2, 1, 2], 2)))
    assert torch.allclose(scores["total"], 3 * scores["video_sentence"])
    assert not model.needs_fine_scoring


def test_registry_options_and_facts_load_without_torch():
    code = ("import sys\nfrom tvrkit.models import load_model_config, method_facts, method_names\n"
            "for name in method_names():\n    method_facts(load_model_config(base={'method': name}))\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_every_method_declares_its_facts():
    for name in method_names():
        cfg = load_model_config(base={"method": name})
        facts = method_facts(cfg)
        assert facts.levels and all(level.meaning for level in facts.levels), name
        assert facts.coarse_level and facts.temporal, name
        assert set(facts.post_levels) <= set(facts.level_names), name


# a config's model section read for the composable model's fields or a method's own options
READS_MODEL_INTERNALS = re.compile(
    r"\bmodel\.(temporal|levels|loss)\.|\.model\.(options|clip4clip|xpool|drl|ucofia|eercf|vscha|hmmc)\b"
    r"|cfg\.(temporal|levels|loss)\b|[\"'](temporal|levels)[\"']: \{|\bLEVELS\b|RetrievalModel|models\.heads"
)


def test_nothing_outside_the_models_package_reads_method_internals():
    offenders = []
    for path in [*(ROOT / "tvrkit").rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")]:
        if (ROOT / "tvrkit" / "models") in path.parents:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if READS_MODEL_INTERNALS.search(line.split("#")[0]):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
