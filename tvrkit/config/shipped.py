"""The configs shipped with tvrkit (``tvrkit/configs/*.yaml``, package data), addressable by name.

``--config demo`` and ``--config msrvtt-clip4clip-seqtransf-vit-b32`` name shipped configs; a path to
a file still works, and ``configs/NAME.yaml`` (how a checkout names them) resolves to the shipped one
when no such file exists where the command runs. ``tvrkit config list`` prints every name with a
one-line description (see :func:`description`) and ``tvrkit config show NAME`` prints a config,
comments included, to copy and edit.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

from tvrkit.errors import ConfigError

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "configs"


def shipped_names() -> tuple[str, ...]:
    """Every shipped config's name (its file stem), sorted."""
    return tuple(sorted(p.stem for p in SHIPPED_DIR.glob("*.yaml")))


def _leading_comment(text: str) -> list[str]:
    """The lines of the file's first comment paragraph (a bare ``#`` line, a blank line or a key ends it)."""
    lines: list[str] = []
    for line in text.splitlines():
        if not line.startswith("#"):
            if lines or line.strip():
                break
            continue
        content = line.lstrip("#").strip()
        if not content:
            if lines:
                break
            continue
        lines.append(content)
    return lines


def first_sentence(text: str) -> str:
    """``text``'s first sentence without its parenthesised asides: a sentence ends at a full stop
    followed by a space (or the end) outside parentheses, so "et al., 2021" inside them is safe."""
    out: list[str] = []
    depth = 0
    for i, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif depth == 0:
            out.append(char)
            if char == "." and (i + 1 == len(text) or text[i + 1].isspace()):
                break
    # a removed aside leaves a space before the punctuation that followed it
    return re.sub(r"\s+([,.;:])", r"\1", " ".join("".join(out).split()))


def description(name: str) -> str:
    """The one-line description of shipped config ``name``: the comment's first line when it stands
    alone (nothing, a bare ``#`` or a new sentence follows it, its parentheses closed), else the first
    sentence of the comment's first paragraph without its asides."""
    lines = _leading_comment(config_text(name))
    if not lines:
        return ""
    first = lines[0]
    if (len(lines) == 1 or lines[1][:1].isupper()) and first.count("(") == first.count(")"):
        return first
    return first_sentence(" ".join(lines))


def config_text(name: str) -> str:
    """The YAML text of shipped config ``name``; :class:`ConfigError` naming the closest names if none."""
    path = SHIPPED_DIR / f"{name}.yaml"
    if not name or not path.is_file():
        close = difflib.get_close_matches(name, shipped_names(), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"no shipped config named {name!r}{hint} (`tvrkit config list` names them)")
    return path.read_text(encoding="utf-8")


def shipped_table() -> str:
    """Every shipped config's name and description, one aligned line each (``tvrkit config list``)."""
    names = shipped_names()
    width = max((len(n) for n in names), default=0)
    return "".join(f"{name:<{width}}  {description(name)}\n" for name in names)


def resolve_config_path(path_or_name: str | os.PathLike[str]) -> Path:
    """An existing file as given, else the shipped config it names; :class:`ConfigError` if neither."""
    given = Path(path_or_name)
    if given.is_file():
        return given
    name = given.name[: -len(".yaml")] if given.name.endswith(".yaml") else given.name
    candidate = SHIPPED_DIR / f"{name}.yaml"
    if name and candidate.is_file() and (given.parent == Path(".") or given.parent.name == "configs"):
        return candidate
    raise ConfigError(
        f"config not found: {given} (neither a file nor a shipped config; `tvrkit config list` names them)"
    )
