"""A broker that is down, as this process's Celery app sees it."""

import pytest

from app.core.celery_app import celery_app


def close_the_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every send from this process goes to a port where nothing listens."""
    closed_port = "redis://127.0.0.1:1/0"
    # Celery reads CELERY_BROKER_URL from the environment before its own configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", closed_port)
    monkeypatch.setattr(celery_app.conf, "broker_url", closed_port)
    monkeypatch.setattr(celery_app, "_pool", None)
    monkeypatch.setattr(celery_app.amqp, "_producer_pool", None)
