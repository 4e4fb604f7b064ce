"""pg_catalog and information_schema emulation over an in-process SQL engine (DuckDB).

- engine.py: CatalogEngine (owns the DuckDB catalog database, rebuilds on model reloads) and
  CatalogSession (one per client session: describe / execute, temp tables, session commands).
- pgdata.py + data/pg15_catalog.json.gz: PostgreSQL 15's own relation definitions and built-in rows.
- populate.py: rows for the models (pg_class, pg_attribute, pg_constraint, information_schema, ...).
- translate.py: PostgreSQL SQL -> DuckDB SQL (sqlglot + catalog-aware rewrites) and result shapes.
- functions.py: catalog functions (format_type, pg_get_*, current_setting, ...) as macros/UDFs.
- results.py: RowDescription types; sessioncmds.py: SET/SHOW/BEGIN/DECLARE/FETCH/CLOSE.
"""
