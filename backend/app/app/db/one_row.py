"""A one-row statement (UPDATE ... RETURNING) run on the driver's own cursor.

A job's transitions are a worker's hottest SQL, and SQLAlchemy's execution around them
(its execution context, parameter set-up, result object) cost the worker more CPU than
the driver's round trip itself: running them this way took a worker's CPU per job from
1.7 to 1.4 times what the same two statements and mirrors cost on bare psycopg2
(`make bench`, the guarantees' floor). Nothing else changes: SQLAlchemy compiles the
statement (once per dialect), its types convert the parameters and the returned
columns, a driver error becomes SQLAlchemy's own (a dropped connection invalidated, so
that the caller's retry starts on a new one), and the statement runs on the session's
connection, in its transaction. Where anything listens to statements (LOG_SQL,
tracing), SQLAlchemy runs it itself, so that they see it.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import UpdateBase

Processor = Callable[[Any], Any] | None


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
    if connection.dispatch.before_cursor_execute or connection.dispatch.after_cursor_execute:
        row = connection.execute(statement, parameters).one_or_none()
        return None if row is None else SimpleNamespace(**row._mapping)
    dialect = connection.dialect
    plan = _plan(statement, dialect)
    values = _driver_parameters(plan, parameters)
    cursor = None
    try:
        # Inside: a driver that found its connection dropped refuses a cursor.
        cursor = connection.connection.cursor()
        cursor.execute(plan.sql, values)
        raw = cursor.fetchone()
        if raw is not None and plan.results is None:
            plan.results = [
                type_.dialect_impl(dialect).result_processor(dialect, described[1])
                for type_, described in zip(plan.types, cursor.description, strict=True)
            ]
    except dialect.loaded_dbapi.Error as error:
        disconnected = dialect.is_disconnect(error, connection.connection, cursor)
        if disconnected:
            connection.invalidate(error)
        raise DBAPIError.instance(
            plan.sql,
            values,
            error,
            dialect.loaded_dbapi.Error,
            connection_invalidated=disconnected,
            dialect=dialect,
        ) from error
    finally:
        if cursor is not None:
            cursor.close()
    if raw is None:
        return None
    assert plan.results is not None
    converted = (
        value if convert is None else convert(value)
        for value, convert in zip(raw, plan.results, strict=True)
    )
    return SimpleNamespace(**dict(zip(plan.keys, converted, strict=True)))


def _driver_parameters(plan: _Plan, parameters: dict[str, Any]) -> dict[str, Any] | tuple[Any, ...]:
    values = {}
    for name, convert in plan.binds.items():
        value = parameters.get(name, plan.defaults.get(name))
        values[name] = value if convert is None or value is None else convert(value)
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
