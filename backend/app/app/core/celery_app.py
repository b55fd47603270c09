"""The Celery application: one configuration for the API (which sends) and the worker."""

import logging
from typing import Any

from celery import Celery
from celery.signals import before_task_publish, celeryd_init, setup_logging
from kombu import Queue

from app.core import log_context
from app.core.config import settings
from app.core.log_config import configure_logging, json_lines
from app.tools.registry import tools_by_name
from app.worker.broker_transport import transport_for
from app.worker.scheduler import beat_schedule
from app.worker.task_routes import DEFAULT_QUEUE, HOUSEKEEPING_QUEUE, TASK_ROUTES, TaskName

# Job priority as users see it: 0 lowest .. 9 most urgent (as in AMQP).
MAX_PRIORITY = 9


def queue_names() -> list[str]:
    """Every queue of this installation: the default one, housekeeping and each tool's."""
    tool_queues = {tool.queue for tool in tools_by_name().values()}
    return sorted({DEFAULT_QUEUE, HOUSEKEEPING_QUEUE} | tool_queues)


celery_app = Celery("tooljobs", broker=settings.broker_url, include=["app.worker.tasks"])
celery_app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    # Job state lives in PostgreSQL and Redis (app.worker.redis_db), never in a result backend.
    task_ignore_result=True,
    # A job is acknowledged only when it ended, so a worker that dies hands it back.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_queues=[
        Queue(name, routing_key=name, max_priority=MAX_PRIORITY) for name in queue_names()
    ],
    task_default_queue=DEFAULT_QUEUE,
    task_routes=TASK_ROUTES,
    task_create_missing_queues=False,
    broker_transport_options={
        # Redis has no native priorities: kombu keeps one list per step and reads step 0 first.
        "priority_steps": list(range(MAX_PRIORITY + 1)),
        "sep": ":",
        # A broker that accepts connections and never answers would otherwise hold a
        # submit (and a worker's sends) for ever.
        "socket_connect_timeout": 3,
        "socket_timeout": 3,
    },
    # RabbitMQ takes a worker's connection for dead after two missed heartbeats, and
    # requeues what it held, also when its machine vanished without closing it. (A Redis
    # broker watches no connection: the reaper gives back what a dead worker took.)
    broker_heartbeat=max(1, round(settings.WORKER_LOST_AFTER_SECONDS / 2)),
    broker_connection_retry_on_startup=True,
    # Fail a submit within seconds when the broker is down, instead of hanging the request.
    broker_connection_timeout=3,
    task_publish_retry_policy={
        "max_retries": 2,
        "interval_start": 0.2,
        "interval_step": 0.5,
        "interval_max": 1,
    },
    beat_schedule=beat_schedule(),
    worker_hijack_root_logger=False,
    broker_transport=transport_for(settings.broker_url),
)


class _WithoutSchedulerTicks(logging.Filter):
    """Beat sends the schedule dispatcher every SCHEDULER_TICK_SECONDS (1 s): at INFO,
    its send, its receipt and its success would be most lines of beat's and a worker's
    log, burying the jobs'. They show at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        return (
            record.levelno != logging.INFO
            or logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
            or TaskName.DISPATCH_SCHEDULES not in record.getMessage()
        )


# Where Celery logs a task's send (beat), receipt, success and discarding (worker).
for _logger_name in (
    "celery.beat",
    "celery.worker.strategy",
    "celery.app.trace",
    "celery.worker.request",
):
    logging.getLogger(_logger_name).addFilter(_WithoutSchedulerTicks())


@setup_logging.connect
def _log_as_the_app_does(loglevel: int, **_: object) -> None:
    """Worker and beat log through app.core.log_config (Celery's own lines too), at the
    level of their --loglevel; connected, it replaces Celery's logging setup."""
    configure_logging(loglevel)


@celeryd_init.connect
def _log_from_the_start(instance: Any, options: dict[str, Any], **_: object) -> None:
    """A worker's first words (such as its warning when run as root) are log lines too;
    its banner, written for people, is left out of JSON lines."""
    configure_logging(options.get("loglevel") or "WARNING")
    if json_lines():
        instance.quiet = True


@before_task_publish.connect
def _hand_on_request_id(headers: dict[str, Any], **_: object) -> None:
    """A task sent while serving a request (or running a task that was) carries the
    request's id, which the worker binds for the task's log lines (app.worker.tasks)."""
    request_id = log_context.request_id()
    if request_id is not None:
        headers.setdefault(log_context.REQUEST_ID, request_id)


def broker_priority(priority: int) -> int:
    """The Celery message priority for a job priority, on this broker.

    AMQP brokers deliver the highest number first; kombu's Redis transport delivers the
    lowest first, so the scale is turned over for Redis.
    """
    if celery_app.conf.broker_url.startswith(("redis", "rediss")):
        return MAX_PRIORITY - priority
    return priority
