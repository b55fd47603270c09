"""The test database: migrations and dropping whole databases."""

from alembic.config import Config
from sqlalchemy import create_engine, make_url, text

from tests.support.paths import PROJECT_DIR


def alembic_config() -> Config:
    return Config(str(PROJECT_DIR / "alembic.ini"))


def drop_database(url: str) -> None:
    parsed = make_url(url)
    maintenance = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with maintenance.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    maintenance.dispose()
