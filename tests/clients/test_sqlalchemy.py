"""SQLAlchemy 2's inspector with the postgresql+psycopg dialect: what Superset runs when a database is added."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.clients.targets import Target, nullable


@pytest.fixture
def engine(target: Target) -> Iterator[Engine]:
    eng = sa.create_engine(f"postgresql+psycopg://demo:demo@{target.host}:{target.port}/semantic",
                           connect_args={"sslmode": "disable"}, poolclass=sa.pool.NullPool)
    yield eng
    eng.dispose()


def test_schemas(engine: Engine) -> None:
    schemas = sa.inspect(engine).get_schema_names()
    assert "public" in schemas
    assert "pg_catalog" not in schemas and "information_schema" in schemas


def test_tables_and_views(target: Target, engine: Engine) -> None:
    insp = sa.inspect(engine)
    assert set(insp.get_table_names(schema="public")) == {t.name for t in target.public_tables}
    assert insp.get_view_names(schema="public") == []
    assert insp.get_materialized_view_names(schema="public") == []
    assert insp.has_table(target.showcase().name)
    assert not insp.has_table("no_such_model")


def test_columns(target: Target, engine: Engine) -> None:
    insp = sa.inspect(engine)
    dialect = engine.dialect
    for table in target.public_tables:
        cols = insp.get_columns(table.name, schema="public")
        assert [c["name"] for c in cols] == [c.name for c in table.columns]
        for got, want in zip(cols, table.columns, strict=True):
            assert got["nullable"] == nullable(table, want), want.name
            assert got["type"].compile(dialect=dialect), want.name  # a type SQLAlchemy knows
            assert got.get("comment") == want.description, want.name


def test_keys_and_indexes(target: Target, engine: Engine) -> None:
    insp = sa.inspect(engine)
    for table in target.public_tables:
        pk = insp.get_pk_constraint(table.name, schema="public")
        assert tuple(pk["constrained_columns"]) == table.primary_key, table.name
        fks = insp.get_foreign_keys(table.name, schema="public")
        assert {(fk["name"], tuple(fk["constrained_columns"]), fk["referred_table"],
                 tuple(fk["referred_columns"])) for fk in fks} == {
            (fk.name, fk.columns, fk.ref_table, fk.ref_columns) for fk in table.foreign_keys}, table.name
        indexes = insp.get_indexes(table.name, schema="public")
        assert all(not i.get("unique") or tuple(i["column_names"]) != table.primary_key for i in indexes)
        assert insp.get_unique_constraints(table.name, schema="public") == []
        assert insp.get_check_constraints(table.name, schema="public") == []
        comment = insp.get_table_comment(table.name, schema="public")
        assert comment["text"] == table.description


def test_metric_query_through_core(target: Target, engine: Engine) -> None:
    q = target.metric()
    with engine.connect() as conn:
        everything = dict(conn.execute(sa.text(q.all_sql())).all())  # type: ignore[arg-type]
        value = sorted(everything, key=str)[0]
        got = conn.execute(sa.text(q.sql(":v")), {"v": value}).all()
    assert [tuple(r) for r in got] == [(value, everything[value])]
