"""Bare Celery, the floor under both APIs: a no-op task, no web layer, no database.

With tooljobs' delivery settings (a task acknowledged when it ended, one reserved per
pool process), so that the drain compares what tooljobs adds per job and not the price
of those guarantees. Its result backend is how the bench counts finished tasks.
"""

import os

from celery import Celery

celery = Celery("bare", broker=os.environ["BARE_BROKER_URL"], backend=os.environ["BARE_RESULT_URL"])
celery.conf.update(task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1)


@celery.task(name="bare.noop")
def noop(message: str) -> str:
    return message
