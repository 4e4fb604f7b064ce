"""SQL over virtual tables → semantic query → logical plan → dialect SQL (sqlglot)."""
