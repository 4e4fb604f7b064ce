"""pg_catalog and information_schema emulation over an in-process SQL engine."""
