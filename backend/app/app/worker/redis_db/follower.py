"""One Redis subscription per API process, followed from a thread of its own."""

import logging
import threading
import uuid
from collections.abc import Callable

import redis

from app.worker.redis_db import keys
from app.worker.redis_db.connection import client

logger = logging.getLogger(__name__)

# Called with the job and the data of each message on a job's channel.
JobMessageHandler = Callable[[uuid.UUID, bytes], None]
# Called with each message on the invalidations channel.
InvalidationHandler = Callable[[bytes], None]


class RedisFollower:
    """Hands each job channel's messages to `on_job_message` and each invalidation to
    `on_invalidation`.

    A blocking subscriber in a thread never holds up the event loop, nor its shutdown;
    one connection serves every request of the process. `on_follow(False)` says that
    messages may have been missed from now on (the subscription was lost),
    `on_follow(True)` that none is missed any more.
    """

    def __init__(
        self,
        *,
        on_job_message: JobMessageHandler,
        on_invalidation: InvalidationHandler,
        on_follow: Callable[[bool], None],
        retry_seconds: float = 1.0,
    ) -> None:
        self._on_job_message = on_job_message
        self._on_invalidation = on_invalidation
        self._on_follow = on_follow
        self._retry_seconds = retry_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="redis-follower", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._on_follow(False)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._follow()
            except (redis.RedisError, OSError, ValueError) as error:
                logger.warning("Redis subscription lost (%r); retrying", error)
                self._on_follow(False)
                self._stopping.wait(self._retry_seconds)

    def _follow(self) -> None:
        with client().pubsub() as pubsub:  # type: ignore[no-untyped-call]
            pubsub.psubscribe(keys.JOB_CHANNELS_PATTERN, keys.INVALIDATIONS_CHANNEL)
            self._on_follow(True)
            while not self._stopping.is_set():
                message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                if message is None:
                    continue
                if message["pattern"].decode() == keys.JOB_CHANNELS_PATTERN:
                    job_id = keys.job_of_channel(message["channel"].decode())
                    self._on_job_message(job_id, message["data"])
                else:
                    self._on_invalidation(message["data"])
