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


def _stage_module(tmp_path, monkeypatch, name: str, frames: int) -> str:
    """A module whose options dataclass ``Stage`` is a stage config (``frames`` defaults to ``frames``)."""
    (tmp_path / f"{name}.py").write_text(
        "import dataclasses\n\nfrom tvrkit.config.options import option\n\n\n"
        "@dataclasses.dataclass(frozen=True)\nclass Section:\n"
        f"    frames: int = option({frames}, 'Frames per video.', minimum=1)\n"
        "    tag: str | None = option(None, 'A tag.', pattern='^[a-z]+$')\n"
        "    sizes: tuple[str, ...] = option(('a',), 'Sizes.', choices=('a', 'b'), min_items=1, unique_items=True)\n"
        "    size: str | int = option('1MB', 'A size as text or bytes.')\n\n\n"
        "@dataclasses.dataclass(frozen=True)\nclass Stage:\n"
        "    out: str = option(description='Where it writes.', min_length=1)\n"
        "    inner: dict = option(description='A section another schema owns.', ref='toyinner')\n"
        "    section: Section = option(description='A section.', factory=Section)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return f"{name}:Stage"


def test_a_default_lives_only_in_the_dataclass(toy_schemas, tmp_path, monkeypatch):
    from tvrkit.config import resolve_config

    for frames in (12, 7):  # the same schema file; only the dataclass's default changes
        ref = _stage_module(tmp_path, monkeypatch, f"stage_defaults_{frames}", frames)
        (toy_schemas / "stage.schema.json").write_text(json.dumps({"title": "toy stage", "x-tvrkit-dataclass": ref}))
        schema_mod.forget_schemas()
        assert resolve_config("stage", {"out": "o"}) == {
            "out": "o", "section": {"frames": frames, "tag": None, "sizes": ["a"], "size": "1MB"},
            "inner": {"frames": 12, "tag": "1e3"}}
        assert schema_mod.load_schema("stage")["title"] == "toy stage"
    resolved = resolve_config("stage", {"out": "o"}, ["section.tag=null", "section.frames=3", "section.sizes=a,b",
                                                      "inner.frames=5"])
    assert resolved["section"] == {"frames": 3, "tag": None, "sizes": ["a", "b"], "size": "1MB"}
    assert resolved["inner"]["frames"] == 5


@pytest.mark.parametrize("doc, message", [
    ({}, r"'out' is a required property"),
    ({"out": ""}, r"out: '' should be non-empty"),
    ({"out": "o", "section": {"frames": 0}}, r"section\.frames: 0 is less than the minimum of 1"),
    ({"out": "o", "section": {"tag": "X1"}}, r"section\.tag: 'X1' does not match"),
    ({"out": "o", "section": {"sizes": ["c"]}}, r'section\.sizes\.0: "c" is not allowed; allowed: "a", "b"'),
    ({"out": "o", "section": {"sizes": []}}, r"section\.sizes: \[\] should be non-empty"),
    ({"out": "o", "section": {"sizes": ["a", "a"]}}, r"section\.sizes: .* non-unique"),
    ({"out": "o", "section": {"size": 1.5}}, r"section\.size: expected string or integer, got 1\.5"),
    ({"out": "o", "inner": {"frames": "x"}}, r'inner\.frames: expected integer, got "x"'),
])
def test_generated_constraints_name_the_key(toy_schemas, tmp_path, monkeypatch, doc, message):
    from tvrkit.config import resolve_config

    ref = _stage_module(tmp_path, monkeypatch, "stage_constraints", 12)
    (toy_schemas / "stage.schema.json").write_text(json.dumps({"x-tvrkit-dataclass": ref}))
    schema_mod.forget_schemas()
    with pytest.raises(ConfigError, match=message):
        resolve_config("stage", doc)


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
    if name != "model":  # the model schema file describes model.method; the rest is generated
        assert "properties" not in text, f"{name}.schema.json lists keys; they belong in the dataclass"
    ref, required = STAGE_SCHEMAS[name]
    cls = schema_mod._named(ref)
    resolved = resolve_config(name, required)
    assert set(to_dict(from_dict(cls, required))) <= set(resolved)  # every key the run saves is filled in
    assert from_dict(cls, resolved) == from_dict(cls, required)
    for key, prop in schema_mod.load_schema(name)["properties"].items():
        assert prop.get("description"), f"{name}.{key} has no description"


def test_config_schema_prints_a_stage_schema_and_names_the_known_ones(capsys):
    from tvrkit.cli import main

    main(["config", "schema", "shard"])
    printed = json.loads(capsys.readouterr().out)
    assert printed["title"] == "tvrkit shard config"
    quality = printed["properties"]["jpeg_quality"]
    assert quality["default"] == 90 and quality["maximum"] == 100 and quality["description"]
    with pytest.raises(SystemExit) as exited:
        main(["config", "schema", "nope"])
    assert exited.value.code == 2 and "known: compress, data, eval, index, model, prepare, shard, train" in \
        capsys.readouterr().err

