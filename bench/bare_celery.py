"""Bare Celery, the floor under both APIs: a no-op task, no web layer, no database."""

import os

from celery import Celery

celery = Celery("bare", broker=os.environ["BARE_BROKER_URL"], backend=os.environ["BARE_RESULT_URL"])


@celery.task(name="bare.noop")
def noop(message: str) -> str:
    return message
