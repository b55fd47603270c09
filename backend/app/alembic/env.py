"""Migrations run against settings.database_url with the metadata of app.db.base."""

from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic.operations import MigrationScript
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, pool

from app.core.config import settings
from app.db.base import Base

if context.config.config_file_name is not None:
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)


def drop_empty_revision(
    migration_context: MigrationContext, _revision: Any, directives: list[MigrationScript]
) -> None:
    """`revision --autogenerate` with no model change writes no file."""
    if not getattr(context.config.cmd_opts, "autogenerate", False) or not directives:
        return
    upgrade_ops = directives[0].upgrade_ops
    if upgrade_ops is not None and upgrade_ops.is_empty():
        directives[:] = []


CONFIGURATION: dict[str, Any] = {
    "target_metadata": Base.metadata,
    "compare_type": True,
    # Batch mode rebuilds tables where SQLite cannot ALTER them.
    "render_as_batch": True,
    "process_revision_directives": drop_empty_revision,
}


def run_migrations_offline() -> None:
    context.configure(url=settings.database_url, literal_binds=True, **CONFIGURATION)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    # An explicit connection (tests pass one) wins over the settings.
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(settings.database_url, poolclass=pool.NullPool)
    with engine.connect() as new_connection:
        _run(new_connection)


def _run(connection: Any) -> None:
    context.configure(connection=connection, **CONFIGURATION)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
