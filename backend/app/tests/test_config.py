import warnings

import pytest
from pydantic import ValidationError

from app.core.config import Settings


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "name", ["SECRET_KEY", "POSTGRES_PASSWORD", "FIRST_SUPERUSER_PASSWORD", "WEBHOOK_SECRET"]
)
def test_changethis_secret_is_refused_outside_local(name: str) -> None:
    values = {"SECRET_KEY": "a-real-secret", name: "changethis"}
    with pytest.raises(ValidationError, match=name):
        settings(ENVIRONMENT="production", **values)


def test_changethis_secret_is_accepted_in_local_without_a_warning() -> None:
    # Every process of `make run` reads the settings: a warning would be printed by each.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert settings(ENVIRONMENT="local", SECRET_KEY="changethis").SECRET_KEY == "changethis"


def test_secret_key_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECRET_KEY")
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        settings()


def test_database_url_is_built_from_postgres_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL")
    built = settings(
        POSTGRES_SERVER="db", POSTGRES_USER="app", POSTGRES_PASSWORD="pw", POSTGRES_DB="jobs"
    )
    assert built.database_url == "postgresql+psycopg2://app:pw@db:5432/jobs"


def test_broker_defaults_to_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CELERY_BROKER_URL")
    assert settings(REDIS_URL="redis://cache:6379/2").broker_url == "redis://cache:6379/2"
    # kombu spells a unix socket differently from redis-py.
    assert settings(REDIS_URL="unix:///run/r.sock").broker_url == "redis+socket:///run/r.sock"


@pytest.mark.parametrize(
    "value",
    [
        "http://localhost:5173, https://app.example.com/",
        '["http://localhost:5173", "https://app.example.com"]',
    ],
)
def test_cors_origins_are_a_comma_or_json_list(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("BACKEND_CORS_ORIGINS", value)
    assert settings().cors_origins == ["http://localhost:5173", "https://app.example.com"]


def test_cors_origins_must_be_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKEND_CORS_ORIGINS", "localhost:5173")
    with pytest.raises(ValidationError, match="BACKEND_CORS_ORIGINS"):
        settings()


def test_outbound_allow_lists_are_empty_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    # The test environment allow-lists loopback; a deployment starts with nothing.
    monkeypatch.delenv("OUTBOUND_ALLOWED_NETWORKS")
    defaults = settings()
    assert (defaults.OUTBOUND_ALLOWED_NETWORKS, defaults.OUTBOUND_ALLOWED_HOSTS) == ([], [])


def test_outbound_allowed_networks_are_a_comma_list_of_cidrs_or_addresses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OUTBOUND_ALLOWED_NETWORKS", "10.20.0.0/16, fd00:1::/64,192.168.1.5")
    assert [str(network) for network in settings().OUTBOUND_ALLOWED_NETWORKS] == [
        "10.20.0.0/16",
        "fd00:1::/64",
        "192.168.1.5/32",
    ]


@pytest.mark.parametrize("value", ["10.20.0.1/16", "intranet", "10.0.0.0/33"])
def test_outbound_allowed_networks_must_be_networks(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("OUTBOUND_ALLOWED_NETWORKS", value)
    with pytest.raises(ValidationError, match="OUTBOUND_ALLOWED_NETWORKS"):
        settings()
