"""The compare stage's config (torch-free): which base protocol, which methods, how many seeds."""

from __future__ import annotations

from dataclasses import dataclass

from tvrkit.errors import ConfigError


@dataclass(frozen=True)
class CompareConfig:
    """One comparison. ``base`` is a train config (path or shipped name) that fixes the protocol: data,
    backbone, budget (steps or epochs), global batch, optimizer and evaluation. ``methods`` are recipe
    variants (``all``, or names such as ``xpool`` / ``clip4clip-meanp``); each contributes only its
    ``model`` section (minus the backbone) unless ``recipe_optim`` also takes its ``optim`` section."""

    base: str
    out: str = "runs/compare"
    methods: tuple[str, ...] = ("all",)
    seeds: int = 3
    first_seed: int = 0
    overrides: tuple[str, ...] = ()
    recipe_optim: bool = False
    reference: str = "clip4clip-seqtransf"
    split: str | None = None
    recipe_prefix: str = "msrvtt-"
    recipe_suffix: str = "-vit-b32"

    def __post_init__(self) -> None:
        if self.seeds < 1:
            raise ConfigError(f"seeds: {self.seeds}: at least one seed")
        if not self.methods:
            raise ConfigError("methods: name at least one method, or all")
