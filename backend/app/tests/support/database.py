"""The test database: migrations, scratch databases beside it, dropping whole databases."""

from alembic.config import Config
from sqlalchemy import create_engine, make_url, text

from tests.support.environment import TEST_DATABASE_URL
from tests.support.paths import PROJECT_DIR


def alembic_config() -> Config:
    return Config(str(PROJECT_DIR / "alembic.ini"))


def drop_database(url: str) -> None:
    parsed = make_url(url)
    maintenance = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with maintenance.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    maintenance.dispose()


def scratch_database_url(suffix: str) -> str:
    """A database beside the test database, named after it: `tooljobs_test_<suffix>` by
    default, so that runs with another TEST_DATABASE_URL keep apart."""
    url = make_url(TEST_DATABASE_URL)
    return url.set(database=f"{url.database}_{suffix}").render_as_string(hide_password=False)
