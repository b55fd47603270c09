"""One Redis subscription per API process, followed from a thread of its own.

It holds the invalidations channel always, and a job's channel only while a request of
this process waits on the job: a process that followed every job's channel (a pattern)
would read each transition of every job, waited on or not, in every API process - a
fifth of an API process's CPU under a stream of submits (README, Performance).
"""

import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

import redis
from redis.client import PubSub

from app.worker.redis_db import keys
from app.worker.redis_db.connection import client

logger = logging.getLogger(__name__)

# Called with the job and the data of each message on a followed job's channel.
JobMessageHandler = Callable[[uuid.UUID, bytes], None]
# Called with a job once Redis confirmed that its channel is followed.
JobFollowedHandler = Callable[[uuid.UUID], None]
# Called with each message on the invalidations channel.
InvalidationHandler = Callable[[bytes], None]


class RedisFollower:
    """Hands each invalidation to `on_invalidation`; each message on the channel of a job
    it follows (`follow_job`) to `on_job_message`.

    A blocking subscriber in a thread never holds up the event loop, nor its shutdown;
    one connection serves every request of the process. `on_follow(False)` says that
    messages may have been missed from now on (the subscription was lost),
    `on_follow(True)` that none is missed any more.
    """

    def __init__(
        self,
        *,
        on_job_message: JobMessageHandler,
        on_job_followed: JobFollowedHandler,
        on_invalidation: InvalidationHandler,
        on_follow: Callable[[bool], None],
        retry_seconds: float = 1.0,
    ) -> None:
        self._on_job_message = on_job_message
        self._on_job_followed = on_job_followed
        self._on_invalidation = on_invalidation
        self._on_follow = on_follow
        self._retry_seconds = retry_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="redis-follower", daemon=True)
        # Guards the subscription and the three sets: jobs wanted, jobs whose SUBSCRIBE
        # was sent and not yet confirmed, jobs whose channel is followed.
        self._lock = threading.Lock()
        self._pubsub: PubSub | None = None
        self._wanted: set[uuid.UUID] = set()
        self._pending: set[uuid.UUID] = set()
        self._followed: set[uuid.UUID] = set()
        # Whether the sets changed since the subscription was last put in step with
        # them: only then does a turn compare them (with many waiters, a comparison at
        # every message would cost the thread more than the message).
        self._unsettled = False

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._on_follow(False)

    def follow_job(self, job_id: uuid.UUID) -> bool:
        """Want the job's channel: True when there is nothing to wait for (it is followed
        already, or the follower has no connection now: messages are missed until it
        has). Otherwise `on_job_followed(job_id)` comes once Redis confirmed it (also
        after a lost subscription was made again), the SUBSCRIBE being sent by
        `subscribe_now` or at the follower's next turn. No I/O: safe on the event loop."""
        with self._lock:
            self._wanted.add(job_id)
            self._unsettled = True
            return job_id in self._followed or self._pubsub is None

    def unfollow_job(self, job_id: uuid.UUID) -> None:
        """Want the job's channel no more (unsubscribed at the follower's next turn)."""
        with self._lock:
            self._wanted.discard(job_id)
            self._unsettled = True

    def subscribe_now(self) -> None:
        """Send the SUBSCRIBE of each job wanted and not yet asked for, rather than at
        the follower's next turn. Blocks on Redis: call it off the event loop."""
        with self._lock:
            if self._pubsub is None:
                return  # the follower is connecting: it subscribes to every wanted job
            try:
                self._subscribe_wanted(self._pubsub)
            except (redis.RedisError, OSError) as error:
                # The follower's thread finds the connection broken and starts again.
                logger.warning("Redis subscription failed (%r)", error)

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
            with self._lock:
                self._followed.clear()
                self._pending.clear()
                pubsub.subscribe(keys.INVALIDATIONS_CHANNEL)
                self._subscribe_wanted(pubsub)
                self._pubsub = pubsub
            try:
                self._on_follow(True)
                while not self._stopping.is_set():
                    with self._lock:
                        if self._unsettled:
                            self._unsettled = False
                            self._subscribe_wanted(pubsub)
                            self._unsubscribe_unwanted(pubsub)
                    message = pubsub.get_message(timeout=0.5)
                    if message is not None:
                        self._hand_on(message)
            finally:
                with self._lock:
                    self._pubsub = None

    # Both with the lock held.
    def _subscribe_wanted(self, pubsub: PubSub) -> None:
        unasked = self._wanted - self._followed - self._pending
        if unasked:
            self._pending |= unasked
            pubsub.subscribe(*(keys.job_channel(job) for job in unasked))

    def _unsubscribe_unwanted(self, pubsub: PubSub) -> None:
        unwanted = self._followed - self._wanted
        if unwanted:
            self._followed -= unwanted
            pubsub.unsubscribe(*(keys.job_channel(job) for job in unwanted))  # type: ignore[no-untyped-call]

    def _hand_on(self, message: dict[str, Any]) -> None:
        channel = message["channel"].decode()
        kind = message["type"]
        if channel == keys.INVALIDATIONS_CHANNEL:
            if kind == "message":
                self._on_invalidation(message["data"])
            return
        job_id = keys.job_of_channel(channel)
        if kind == "message":
            self._on_job_message(job_id, message["data"])
        elif kind == "subscribe":
            with self._lock:
                self._pending.discard(job_id)
                self._followed.add(job_id)
                self._unsettled = True  # unwanted meanwhile: to unsubscribe
            self._on_job_followed(job_id)
