"""The broker this process's Celery app sends to, for one test."""

import pytest

from app.core.celery_app import celery_app
from app.worker.broker_transport import transport_for


def send_to(monkeypatch: pytest.MonkeyPatch, broker_url: str) -> None:
    """Every send from this process goes to `broker_url`, and so do the processes it
    starts (they inherit CELERY_BROKER_URL)."""
    # Celery reads CELERY_BROKER_URL from the environment before its own configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", broker_url)
    monkeypatch.setattr(celery_app.conf, "broker_url", broker_url)
    monkeypatch.setitem(celery_app.conf, "broker_transport", transport_for(broker_url))
    monkeypatch.setattr(celery_app, "_pool", None)
    monkeypatch.setattr(celery_app.amqp, "_producer_pool", None)


def close_the_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    """A broker that is down: every send goes to a port where nothing listens."""
    send_to(monkeypatch, "redis://127.0.0.1:1/0")
