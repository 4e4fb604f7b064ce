"""Semantic SQL Gateway: a PostgreSQL wire-protocol server in front of a semantic layer."""

__version__ = "0.1.0"
