"""Config loading: defaults from the dataclasses (the schemas write none), typed --set overrides,
and errors that name the dotted key and what is allowed (exit 2), all before any work starts."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
import yaml

from tvrkit.config import from_dict, load_config, save_resolved, to_dict
from tvrkit.config import schema as schema_mod
from tvrkit.errors import ConfigError

TOY = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "default": "run"},
        "inner": {"$ref": "urn:tvrkit:toyinner"},
        "train": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "epochs": {"type": "integer", "minimum": 1, "default": 5},
                "lr": {"type": "number", "default": 1e-4},
                "precision": {"enum": ["auto", "fp32", "bf16"], "default": "auto"},
                "amp": {"type": "boolean", "default": False},
                "max_steps": {"type": ["integer", "null"], "default": None},
                "splits": {"type": "array", "items": {"type": "string"}, "default": ["train"]},
            },
        },
    },
}
TOY_INNER = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"frames": {"type": "integer", "default": 12}, "tag": {"type": "string", "default": "1e3"}},
}


@dataclasses.dataclass(frozen=True)
class Inner:
    frames: int = 12
    tag: str = "1e3"


@dataclasses.dataclass(frozen=True)
class Train:
    epochs: int = 5
    lr: float = 1e-4
    precision: str = "auto"
    amp: bool = False
    max_steps: int | None = None
    splits: tuple[str, ...] = ("train",)


@dataclasses.dataclass(frozen=True)
class Toy:
    name: str = "run"
    inner: Inner = Inner()
    train: Train = Train()


@pytest.fixture
def toy_schemas(tmp_path, monkeypatch):
    real = schema_mod.schema_dir()
    for f in real.glob("*.schema.json"):
        shutil.copy(f, tmp_path)
    (tmp_path / "toy.schema.json").write_text(json.dumps(TOY))
    (tmp_path / "toyinner.schema.json").write_text(json.dumps(TOY_INNER))
    monkeypatch.setattr(schema_mod, "schema_dir", lambda: tmp_path)
    schema_mod.load_schema.cache_clear()
    schema_mod._validator.cache_clear()
    yield tmp_path
    schema_mod.load_schema.cache_clear()
    schema_mod._validator.cache_clear()


def test_defaults_and_yaml(toy_schemas, tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("train:\n  epochs: 2\n")
    cfg = load_config("toy", Toy, path)
    assert cfg == Toy(train=Train(epochs=2))
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.name = "x"  # type: ignore[misc]


def test_overrides_are_typed_by_schema(toy_schemas):
    cfg = load_config("toy", Toy, overrides=[
        "train.epochs=3", "train.lr=5e-5", "train.amp=yes", "train.max_steps=null",
        "train.splits=a,b", "inner.tag=2e5", "inner.frames=64",
    ])
    assert cfg.train == Train(epochs=3, lr=5e-5, amp=True, max_steps=None, splits=("a", "b"))
    assert cfg.inner == Inner(frames=64, tag="2e5")  # a string stays a string
    assert load_config("toy", Toy, overrides=["train.max_steps=7"]).train.max_steps == 7


@pytest.mark.parametrize(
    "overrides, yaml_text, message",
    [
        (["train.epoch=3"], None, r"unknown key train\.epoch; allowed under train: amp, epochs"),
        (["train.epochs=three"], None, r"train\.epochs: cannot read 'three' as integer"),
        (["train.precision=fp16"], None, r'train\.precision: "fp16" is not allowed; allowed: "auto", "fp32", "bf16"'),
        ([], "train:\n  epochs: 0\n", r"train\.epochs"),
        ([], "train:\n  lr: fast\n", r'train\.lr: expected number, got "fast"'),
        ([], "bogus: 1\ntrain:\n  extra: 2\n", r"unknown key bogus(.|\n)*unknown key train\.extra"),
        (["nokey"], None, "expects key=value"),
    ],
)
def test_errors_name_the_key(toy_schemas, tmp_path, overrides, yaml_text, message):
    path = None
    if yaml_text is not None:
        path = tmp_path / "bad.yaml"
        path.write_text(yaml_text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config("toy", Toy, path, overrides)
    assert info.value.exit_code == 2


def test_tuples_from_the_cli_are_arrays(toy_schemas):
    cfg = load_config("toy", Toy, base={"train": {"splits": ("a", "b")}})
    assert cfg.train.splits == ("a", "b")


def test_missing_and_non_mapping_files(toy_schemas, tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config("toy", Toy, tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config("toy", Toy, tmp_path / "list.yaml")


def test_resolved_config_round_trips(toy_schemas, tmp_path):
    cfg = load_config("toy", Toy, overrides=["train.splits=x"])
    path = save_resolved(cfg, tmp_path / "out")
    saved = yaml.safe_load(path.read_text())
    assert saved["train"]["splits"] == ["x"] and from_dict(Toy, saved) == cfg
    assert to_dict(cfg) == saved


@pytest.mark.parametrize("raw, value", [("null", None), ("~", None), ("NULL", None), ("val", "val"), ("none", "none")])
def test_set_null_is_null_where_the_schema_allows_null(raw, value):
    from tvrkit.config.overrides import apply_overrides, parse_value

    assert parse_value(raw, {"type": ["string", "null"]}, "k") == value
    assert apply_overrides({}, [f"data.val_split={raw}"], "train")["data"]["val_split"] == value
    assert parse_value("null", {"type": "string"}, "k") == "null"  # a plain string key keeps the text


#: each stage schema, its dataclass and the keys it requires
STAGE_SCHEMAS = {
    "model": ("tvrkit.models.config:ModelConfig", {}),
    "train": ("tvrkit.train.config:TrainConfig", {"data": {}, "model": {}}),
    "eval": ("tvrkit.eval.config:EvalConfig", {}),
    "index": ("tvrkit.search.config:IndexConfig", {"videos": "v", "out": "o"}),
    "prepare": ("tvrkit.prepare:PrepareConfig", {}),
    "shard": ("tvrkit.shards.config:ShardConfig", {}),
    "compress": ("tvrkit.media.compress:CompressConfig", {}),
    "data": ("tvrkit.data.config:DataConfig", {}),
}


def _defaults_module(tmp_path, monkeypatch, name: str, frames: int) -> str:
    (tmp_path / f"{name}.py").write_text(
        "import dataclasses\n\n\n@dataclasses.dataclass(frozen=True)\n"
        f"class Section:\n    frames: int = {frames}\n    tag: str | None = None\n\n\n"
        "@dataclasses.dataclass(frozen=True)\n"
        "class Stage:\n    name: str = 'run'\n    section: Section = dataclasses.field(default_factory=Section)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return f"{name}:Stage"


def _stage_schema(defaults_from: str) -> dict:
    section = {"type": "object", "additionalProperties": False, "properties": {
        "frames": {"type": "integer", "minimum": 1}, "tag": {"type": ["string", "null"]}}}
    return {"x-tvrkit-defaults-from": defaults_from, "type": "object", "additionalProperties": False,
            "properties": {"name": {"type": "string"}, "section": section}}


def test_a_default_lives_only_in_the_dataclass(toy_schemas, tmp_path, monkeypatch):
    from tvrkit.config import resolve_config

    for frames in (12, 7):  # the same schema file; only the dataclass's default changes
        ref = _defaults_module(tmp_path, monkeypatch, f"stage_defaults_{frames}", frames)
        (toy_schemas / "stage.schema.json").write_text(json.dumps(_stage_schema(ref)))
        schema_mod.forget_schemas()
        resolved = resolve_config("stage", {})
        assert resolved == {"name": "run", "section": {"frames": frames, "tag": None}}
        assert resolve_config("stage", {}, ["section.tag=null", "section.frames=3"])["section"] == {
            "frames": 3, "tag": None}
        with pytest.raises(ConfigError, match=r"section\.frames"):
            resolve_config("stage", {"section": {"frames": 0}})


def test_a_key_without_a_field_or_a_field_without_a_key_is_named(toy_schemas, tmp_path, monkeypatch):
    ref = _defaults_module(tmp_path, monkeypatch, "stage_defaults_keys", 12)
    schema = _stage_schema(ref)
    schema["properties"]["section"]["properties"]["extra"] = {"type": "integer"}
    (toy_schemas / "stage.schema.json").write_text(json.dumps(schema))
    schema_mod.forget_schemas()
    with pytest.raises(TypeError, match=r"Section disagree: keys without a field \['extra'\]"):
        schema_mod.load_schema("stage")
    del schema["properties"]["section"]["properties"]["extra"], schema["properties"]["name"]
    (toy_schemas / "stage.schema.json").write_text(json.dumps(schema))
    schema_mod.forget_schemas()
    with pytest.raises(TypeError, match=r"Stage disagree: keys without a field \[\], fields without a key \['name'\]"):
        schema_mod.load_schema("stage")


def _defaults_written(node, path=""):
    if isinstance(node, dict):
        if "default" in node:
            yield path or "<top level>"
        for key, value in node.items():
            yield from _defaults_written(value, f"{path}.{key}" if path else key)


@pytest.mark.parametrize("name", sorted(STAGE_SCHEMAS))
def test_stage_schema_files_write_no_default_and_resolve_to_the_dataclass(name):
    from tvrkit.config import resolve_config

    text = json.loads((schema_mod.schema_dir() / f"{name}.schema.json").read_text())
    assert list(_defaults_written(text)) == [], f"{name}.schema.json writes defaults; they belong in the dataclass"
    ref, required = STAGE_SCHEMAS[name]
    cls = schema_mod._named(ref)
    resolved = resolve_config(name, required)
    assert set(to_dict(from_dict(cls, required))) <= set(resolved)  # every key the run saves is filled in
    assert from_dict(cls, resolved) == from_dict(cls, required)
