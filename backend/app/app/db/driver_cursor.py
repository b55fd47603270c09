"""Statements run on the driver's own cursor: a job's transitions (one row, UPDATE ...
RETURNING) and a batch of new jobs (one INSERT).

These are the hottest SQL of a worker and of a bulk submit, and SQLAlchemy's execution
around them (its execution context, parameter set-up, result object) cost more CPU than
the driver's round trip itself: running the transitions this way took a worker's CPU per
job from 1.7 to 1.4 times what the same two statements and mirrors cost on bare
psycopg2 (`make bench`, the guarantees' floor); a batch's insert costs a quarter less.
Nothing else changes: SQLAlchemy compiles each statement (once per dialect), its types
convert the parameters and the returned columns, a driver error becomes SQLAlchemy's own
(a dropped connection invalidated, so that the caller's retry starts on a new one), and
the statement runs on the session's connection, in its transaction. Where anything
listens to statements (LOG_SQL, tracing), SQLAlchemy runs it itself, so that they see it.
"""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from types import SimpleNamespace
from typing import Any

from psycopg2.extras import execute_values
from sqlalchemy import Connection, Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import Insert, UpdateBase

Processor = Callable[[Any], Any] | None
DriverParameters = dict[str, Any] | tuple[Any, ...]


@dataclass
class _Plan:
    """A statement compiled for one dialect, with its types' converters."""

    sql: str
    defaults: dict[str, Any]
    binds: dict[str, Processor]
    positions: list[str] | None  # the parameters' order, for a positional driver
    keys: list[str]
    types: list[Any]
    results: list[Processor] | None = field(default=None)  # known at the first answer


_plans: dict[tuple[UpdateBase, str], _Plan] = {}


def fetch_one(
    connection: Connection, statement: UpdateBase, parameters: dict[str, Any]
) -> SimpleNamespace | None:
    """The row the statement returned, by column name; None when it returned none."""
    if _listened(connection):
        row = connection.execute(statement, parameters).one_or_none()
        return None if row is None else SimpleNamespace(**row._mapping)
    dialect = connection.dialect
    plan = _plan(statement, dialect)
    values = _driver_parameters(plan, parameters)
    with _driver_cursor(connection, plan.sql, values) as cursor:
        cursor.execute(plan.sql, values)
        raw = cursor.fetchone()
        if raw is not None and plan.results is None:
            plan.results = [
                type_.dialect_impl(dialect).result_processor(dialect, described[1])
                for type_, described in zip(plan.types, cursor.description, strict=True)
            ]
    if raw is None:
        return None
    assert plan.results is not None
    converted = (
        value if convert is None else convert(value)
        for value, convert in zip(raw, plan.results, strict=True)
    )
    return SimpleNamespace(**dict(zip(plan.keys, converted, strict=True)))


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert the rows, each giving every column of the table by its key."""
    if not rows:
        return
    statement = _insert_of(table)
    driver = connection.dialect.driver
    if _listened(connection) or driver not in ("psycopg2", "pysqlite"):
        connection.execute(statement, rows)
        return
    plan = _plan(statement, connection.dialect)
    values = [_driver_parameters(plan, row) for row in rows]
    with _driver_cursor(connection, plan.sql, values) as cursor:
        if driver == "psycopg2":
            # One statement of many VALUES: psycopg2's executemany is a round trip per row.
            head, _, row_template = plan.sql.partition(" VALUES ")
            execute_values(
                cursor, f"{head} VALUES %s", values, template=row_template, page_size=len(values)
            )
        else:
            cursor.executemany(plan.sql, values)


@cache
def _insert_of(table: Table) -> Insert:
    return insert(table)


def _listened(connection: Connection) -> bool:
    dispatch = connection.dispatch
    return bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute)


@contextmanager
def _driver_cursor(
    connection: Connection, sql: str, values: DriverParameters | list[DriverParameters]
) -> Iterator[Any]:
    """A cursor of the connection's driver; its errors raised as SQLAlchemy's."""
    dialect = connection.dialect
    cursor = None
    try:
        # Inside: a driver that found its connection dropped refuses a cursor.
        cursor = connection.connection.cursor()
        yield cursor
    except dialect.loaded_dbapi.Error as error:
        disconnected = dialect.is_disconnect(error, connection.connection, cursor)
        if disconnected:
            connection.invalidate(error)
        raise DBAPIError.instance(
            sql,
            values,
            error,
            dialect.loaded_dbapi.Error,
            connection_invalidated=disconnected,
            dialect=dialect,
        ) from error
    finally:
        if cursor is not None:
            cursor.close()


def _driver_parameters(plan: _Plan, parameters: dict[str, Any]) -> DriverParameters:
    values = {}
    for name, convert in plan.binds.items():
        value = parameters.get(name, plan.defaults.get(name))
        # None too, as SQLAlchemy does: a JSON column's None is JSON's null, not NULL.
        values[name] = value if convert is None else convert(value)
    if plan.positions is None:
        return values
    return tuple(values[name] for name in plan.positions)


def _plan(statement: UpdateBase, dialect: Dialect) -> _Plan:
    key = (statement, dialect.name)
    found = _plans.get(key)
    if found is None:
        compiled = statement.compile(dialect=dialect)
        columns = compiled.effective_returning or ()
        found = _plans[key] = _Plan(
            sql=compiled.string,
            defaults=dict(compiled.params),
            binds={
                name: bind.type.dialect_impl(dialect).bind_processor(dialect)
                for name, bind in compiled.binds.items()
            },
            positions=list(compiled.positiontup or []) if dialect.positional else None,
            keys=[str(column.key) for column in columns],
            types=[column.type for column in columns],
        )
    return found
