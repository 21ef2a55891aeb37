"""Shipped configs by name: how a name or a path resolves, the one-line descriptions of
`tvrkit config list`, and `tvrkit config show NAME` printing a config that loads as it is."""

from __future__ import annotations

import pytest

from tvrkit.cli import main
from tvrkit.config.shipped import (
    SHIPPED_DIR,
    config_text,
    description,
    first_sentence,
    resolve_config_path,
    shipped_names,
)
from tvrkit.errors import ConfigError
from tvrkit.train import load_train_config


def test_names_are_the_package_data_files():
    names = shipped_names()
    assert "demo" in names and list(names) == sorted(names)
    assert {p.stem for p in SHIPPED_DIR.glob("*.yaml")} == set(names)


@pytest.mark.parametrize("given", ["demo", "demo.yaml", "configs/demo.yaml"])
def test_a_name_resolves_to_the_shipped_file(tmp_path, monkeypatch, given):
    monkeypatch.chdir(tmp_path)  # nothing called configs/ here
    assert resolve_config_path(given) == SHIPPED_DIR / "demo.yaml"


def test_an_existing_file_wins_over_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "demo").write_text("data: {}\n")
    assert resolve_config_path("demo").resolve() == tmp_path / "demo"


def test_unknown_names_and_other_folders_are_config_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="config list"):
        resolve_config_path("no-such-recipe")
    with pytest.raises(ConfigError):
        resolve_config_path("elsewhere/demo.yaml")  # a path to a folder that is not there is not a name
    with pytest.raises(ConfigError, match="did you mean demo"):
        config_text("dmo")


def test_first_sentence_drops_asides_and_keeps_inner_full_stops():
    text = ("MSR-VTT: X (Luo et al., 2021, \"A. B\") as its code (v1.2) trains it; well. Second sentence. "
            "Third")
    assert first_sentence(text) == "MSR-VTT: X as its code trains it; well."
    assert first_sentence("no full stop at all (really)") == "no full stop at all"


@pytest.mark.parametrize("name", shipped_names())
def test_every_shipped_config_has_a_one_line_description(name):
    line = description(name)
    assert 20 <= len(line) <= 300 and "\n" not in line, line  # a line, not the whole comment


@pytest.mark.parametrize(("comment", "expected"), [
    ("# Tiny recipe (ours), one line\n#\n# Details (more).\n", "Tiny recipe (ours), one line"),
    ("# Tiny recipe, one line\n# Another sentence.\n", "Tiny recipe, one line"),
    ("# A recipe (cited) cut\n# across lines. More.\n", "A recipe cut across lines."),
    ("# A recipe (Author et al.,\n# \"Title\") as its code. More.\n", "A recipe as its code."),
])
def test_description_of_a_leading_comment(tmp_path, monkeypatch, comment, expected):
    monkeypatch.setattr("tvrkit.config.shipped.SHIPPED_DIR", tmp_path)
    (tmp_path / "mine.yaml").write_text(comment + "data: {}\n")
    assert description("mine") == expected


def test_config_list_and_show(tmp_path, monkeypatch, capsys):
    main(["config", "list"])
    rows = capsys.readouterr().out.splitlines()
    assert [row.split()[0] for row in rows] == list(shipped_names())
    assert f"  {description('demo')}" in next(row for row in rows if row.startswith("demo "))
    main(["config", "show", "demo"])
    shown = capsys.readouterr().out
    assert shown == (SHIPPED_DIR / "demo.yaml").read_text()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.yaml").write_text(shown)
    assert load_train_config("mine.yaml") == load_train_config("demo")
    with pytest.raises(SystemExit) as info:
        main(["config", "show", "no-such-recipe"])
    assert info.value.code == 2 and "no shipped config named" in capsys.readouterr().err


def test_eval_takes_shipped_names(tmp_path, monkeypatch):
    from tvrkit.eval.config import load_eval_config

    monkeypatch.chdir(tmp_path)
    untrained = load_eval_config(None, ["data.root=mine"], {}, model_config="demo")
    assert untrained.model == load_train_config("demo").model and untrained.data.root == "mine"
    recipe = "msrvtt-clip4clip-seqtransf-vit-b32"
    assert load_eval_config(recipe, [], {}, model_config=recipe).model == load_train_config(recipe).model
