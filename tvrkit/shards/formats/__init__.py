"""Shard formats, each one module holding its writer and its reader behind the interface of ``base``."""
