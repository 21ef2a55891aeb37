"""The configs shipped with tvrkit (``tvrkit/configs/*.yaml``, package data), addressable by name.

``--config demo`` and ``--config msrvtt-clip4clip-seqtransf-vit-b32`` name shipped configs; a path to
a file still works, and ``configs/NAME.yaml`` (how a checkout names them) resolves to the shipped one
when no such file exists where the command runs.
"""

from __future__ import annotations

import os
from pathlib import Path

from tvrkit.errors import ConfigError

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "configs"


def shipped_names() -> tuple[str, ...]:
    """Every shipped config's name (its file stem), sorted."""
    return tuple(sorted(p.stem for p in SHIPPED_DIR.glob("*.yaml")))


def description(name: str) -> str:
    """The one-line description of shipped config ``name``: the first line of its leading comment."""
    for line in (SHIPPED_DIR / f"{name}.yaml").read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
        if line.strip():
            break
    return ""


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
