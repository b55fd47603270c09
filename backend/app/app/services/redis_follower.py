"""One Redis subscription per API process, followed from a thread of its own."""

import logging
import threading
from collections.abc import Callable

import redis

from app.worker import redis_db

logger = logging.getLogger(__name__)

# Called with the channel and the data of each message on the channels it follows.
Handler = Callable[[str, bytes], None]


class RedisFollower:
    """Hands each message on the followed channel patterns to its handler.

    A blocking subscriber in a thread never holds up the event loop, nor its shutdown;
    one connection serves every request of the process. `on_follow(False)` says that
    messages may have been missed from now on (the subscription was lost),
    `on_follow(True)` that none is missed any more.
    """

    def __init__(
        self,
        handlers: dict[str, Handler],
        on_follow: Callable[[bool], None],
        retry_seconds: float = 1.0,
    ) -> None:
        self._handlers = handlers
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
        with redis_db.client().pubsub() as pubsub:  # type: ignore[no-untyped-call]
            pubsub.psubscribe(*self._handlers)
            self._on_follow(True)
            while not self._stopping.is_set():
                message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                if message is not None:
                    handler = self._handlers[message["pattern"].decode()]
                    handler(message["channel"].decode(), message["data"])
