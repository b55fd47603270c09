"""Prometheus metrics of the whole deployment, read when scraped from what every process
shares (PostgreSQL, Redis, the broker): any API process answers for all of them, with
no per-process state to add up."""

import logging
from collections.abc import Iterator
from typing import Any

import kombu.exceptions
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session

from app.core.celery_app import celery_app, queue_names
from app.crud import job as job_crud
from app.worker.redis_db import jobs as hot_jobs

logger = logging.getLogger(__name__)


class DeploymentCollector(Collector):
    """Reads everything anew at each scrape, with the scrape's session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def collect(self) -> Iterator[Metric]:
        yield _live_jobs(self._session)
        yield _ended_jobs()
        yield _queue_messages()


def _live_jobs(session: Session) -> Metric:
    metric = GaugeMetricFamily(
        "tooljobs_jobs", "Jobs not yet ended, by tool and state.", labels=["tool", "state"]
    )
    for tool, state, count in job_crud.count_live_jobs(session):
        metric.add_metric([tool, state.value], count)
    return metric


def _ended_jobs() -> Metric:
    metric = CounterMetricFamily(
        "tooljobs_jobs_ended",
        "Jobs that ended, by tool and end state (counted in Redis: reset when it is).",
        labels=["tool", "state"],
    )
    for (tool, state), count in hot_jobs.ended_job_counts().items():
        metric.add_metric([tool, state], count)
    return metric


def _queue_messages() -> Metric:
    metric = GaugeMetricFamily(
        "tooljobs_queue_messages",
        "Tasks waiting in each broker queue (absent when the broker does not answer).",
        labels=["queue"],
    )
    for queue, count in _queue_lengths():
        metric.add_metric([queue], count)
    return metric


def _queue_lengths() -> Iterator[tuple[str, int]]:
    try:
        with celery_app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=0, timeout=3)
            # kombu types its channel without queue_declare, which every transport has.
            channel: Any = connection.default_channel
            for queue in queue_names():
                try:
                    _, message_count, _ = channel.queue_declare(queue=queue, passive=True)
                    yield queue, message_count
                except connection.channel_errors:
                    # Not declared yet (no worker consumed it, or Redis has no message in it).
                    yield queue, 0
                    channel = connection.channel()
    except (OSError, kombu.exceptions.OperationalError) as error:
        logger.warning("broker unavailable (metrics): %r", error)


def render(session: Session) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DeploymentCollector(session))
    return generate_latest(registry)
