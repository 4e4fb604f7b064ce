"""Semantic models, the virtual schema they expose, the pg_catalog emulation and the SQL compiler."""
