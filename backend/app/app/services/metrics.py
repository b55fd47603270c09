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

from app.core.celery_app import celery_app
from app.crud import job as job_crud
from app.db.session import SessionLocal
from app.services.hot_state import best_effort
from app.tools.registry import queues
from app.worker import redis_db

logger = logging.getLogger(__name__)


class DeploymentCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield _live_jobs()
        yield _ended_jobs()
        yield _queue_messages()


def _live_jobs() -> Metric:
    metric = GaugeMetricFamily(
        "tooljobs_jobs", "Jobs not yet ended, by tool and state.", labels=["tool", "state"]
    )
    with SessionLocal() as session:
        for tool, state, count in job_crud.count_live_jobs(session):
            metric.add_metric([tool, state.value], count)
    return metric


def _ended_jobs() -> Metric:
    metric = CounterMetricFamily(
        "tooljobs_jobs_ended",
        "Jobs that ended, by tool and end state (counted in Redis: reset when it is).",
        labels=["tool", "state"],
    )
    none: dict[tuple[str, str], int] = {}
    counts = best_effort("metrics", redis_db.ended_job_counts, none)
    for (tool, state), count in counts.items():
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
            for queue in sorted(queues()):
                try:
                    _, message_count, _ = channel.queue_declare(queue=queue, passive=True)
                    yield queue, message_count
                except connection.channel_errors:
                    # Not declared yet (no worker consumed it, or Redis has no message in it).
                    yield queue, 0
                    channel = connection.channel()
    except (OSError, kombu.exceptions.OperationalError) as error:
        logger.warning("broker unavailable (metrics): %r", error)


registry = CollectorRegistry(auto_describe=False)
registry.register(DeploymentCollector())


def render() -> bytes:
    return generate_latest(registry)
