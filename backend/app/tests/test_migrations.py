"""Migrations on PostgreSQL: up from empty, down to base, up again; and no model drift."""

from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, create_engine, inspect, make_url

from app.db.base import Base
from app.db.init_db import create_database_if_missing
from tests.support.database import alembic_config, drop_database, scratch_database_url

SCRATCH_URL = make_url(scratch_database_url("migrations"))


@pytest.fixture
def scratch_connection() -> Iterator[Connection]:
    url = SCRATCH_URL.render_as_string(hide_password=False)
    drop_database(url)
    create_database_if_missing(url)
    engine = create_engine(SCRATCH_URL)
    with engine.connect() as connection:
        yield connection
    engine.dispose()
    drop_database(url)


def migrate(connection: Connection, direction: str, target: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    getattr(command, direction)(config, target)
    connection.commit()


def test_upgrade_downgrade_upgrade(scratch_connection: Connection) -> None:
    migrate(scratch_connection, "upgrade", "head")
    assert {"user", "job", "alembic_version"} <= set(inspect(scratch_connection).get_table_names())
    migrate(scratch_connection, "downgrade", "base")
    assert set(inspect(scratch_connection).get_table_names()) == {"alembic_version"}
    migrate(scratch_connection, "upgrade", "head")
    assert {"user", "job"} <= set(inspect(scratch_connection).get_table_names())


def test_models_and_migrations_agree(scratch_connection: Connection) -> None:
    migrate(scratch_connection, "upgrade", "head")
    context = MigrationContext.configure(scratch_connection, opts={"compare_type": True})
    assert compare_metadata(context, Base.metadata) == []
