"""Exceptions that carry the CLI exit status, so the library decides *what* failed
and the CLI only maps it to a code (2 = usage/config, 1 = a stage failed)."""

from __future__ import annotations


class TvrkitError(Exception):
    """Base class of every error tvrkit raises on purpose."""

    exit_code = 1


class ConfigError(TvrkitError):
    """Invalid configuration or arguments, found before any work starts (exit 2)."""

    exit_code = 2


class StageError(TvrkitError):
    """A stage could not produce its output (exit 1)."""

    exit_code = 1


class DataError(StageError):
    """Input data (annotations, catalog, shards) is malformed or missing."""


class SourceUnavailable(DataError):
    """A data source (a URL root's server) stayed unreachable through every retry: a training
    run saves a checkpoint it can resume from and stops, naming the URL."""
