"""Fair dispatch: a job's place in the broker's queue gives way to its owner's backlog.

A job goes to the broker with its own priority lowered one step per order of magnitude
of the jobs its owner already had queued when it was submitted (none: 0; 1-9: 1;
10-99: 2; 100-999: 3; ...). A user with nothing waiting keeps their priority and so
overtakes the deep end of a busy user's backlog, on Redis and on RabbitMQ alike, at no
cost to the worker: the broker already orders by priority.
"""

from app.core.celery_app import MAX_PRIORITY


def fair_priority(priority: int, queued_before: int) -> int:
    """The job's priority (0..MAX_PRIORITY) less its owner's backlog step, at least 0."""
    backlog_step = len(str(queued_before)) if queued_before > 0 else 0
    return max(0, min(MAX_PRIORITY, priority) - backlog_step)
