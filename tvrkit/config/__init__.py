"""Config system: YAML files validated by JSON Schemas in ``schemas/``, dotted
``--set`` overrides typed by the schema, and frozen dataclasses for the library.

Stages import what they need from here: ``option`` declares a config field, ``load_config`` /
``resolve_config`` read YAML + overrides into a dataclass, ``save_resolved`` writes it beside a run."""

from tvrkit.config.dataclass import from_dict, to_dict
from tvrkit.config.load import load_config, merge, read_yaml, resolve_config, save_resolved
from tvrkit.config.options import option
from tvrkit.config.overrides import apply_overrides
from tvrkit.config.schema import validate_document
from tvrkit.config.shipped import resolve_config_path

__all__ = ["from_dict", "to_dict", "load_config", "merge", "read_yaml", "resolve_config", "save_resolved", "option",
           "apply_overrides", "validate_document", "resolve_config_path"]
