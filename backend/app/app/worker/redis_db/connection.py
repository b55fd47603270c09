"""Connections to Redis, and the policy every other module here follows when it fails."""

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from functools import cache
from typing import ParamSpec, TypeVar
from weakref import WeakKeyDictionary

import redis
import redis.asyncio as aioredis

from app.core.config import settings

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F")


class RedisUnavailable(Exception):
    """Redis did not answer a call whose caller must know (it cannot carry on without)."""


@cache
def client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, health_check_interval=30)


# An asyncio connection belongs to the event loop that opened it (a test client runs
# one loop per app start), so each loop gets its own client.
_async_clients: WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = WeakKeyDictionary()


def async_client() -> aioredis.Redis:
    loop = asyncio.get_running_loop()
    found = _async_clients.get(loop)
    if found is None:
        found = _async_clients[loop] = aioredis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=5, health_check_interval=30
        )
    return found


def best_effort(fallback: F) -> Callable[[Callable[P, R]], Callable[P, R | F]]:
    """The call, or `fallback` (logged) when Redis does not answer: PostgreSQL stays the
    record, so a lost mirror, tick or cache costs speed, never a job."""

    def decorate(call: Callable[P, R]) -> Callable[P, R | F]:
        @functools.wraps(call)
        def attempt(*args: P.args, **kwargs: P.kwargs) -> R | F:
            try:
                return call(*args, **kwargs)
            except redis.RedisError as error:
                logger.warning("Redis unavailable (%s): %r", call.__name__, error)
                return fallback

        return attempt

    return decorate


def best_effort_async(
    fallback: F,
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R | F]]]:
    """`best_effort` for coroutines."""

    def decorate(call: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R | F]]:
        @functools.wraps(call)
        async def attempt(*args: P.args, **kwargs: P.kwargs) -> R | F:
            try:
                return await call(*args, **kwargs)
            except redis.RedisError as error:
                logger.warning("Redis unavailable (%s): %r", call.__name__, error)
                return fallback

        return attempt

    return decorate


def must_answer(call: Callable[P, R]) -> Callable[P, R]:
    """The call, or RedisUnavailable: for callers that cannot go on without Redis."""

    @functools.wraps(call)
    def attempt(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return call(*args, **kwargs)
        except redis.RedisError as error:
            raise RedisUnavailable(f"{type(error).__name__}: {error}") from error

    return attempt


def must_answer_async(call: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """`must_answer` for coroutines."""

    @functools.wraps(call)
    async def attempt(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await call(*args, **kwargs)
        except redis.RedisError as error:
            raise RedisUnavailable(f"{type(error).__name__}: {error}") from error

    return attempt


def ping() -> None:
    """Readiness: a fresh connection answers PING. Raises what Redis raised, so that
    readiness reports the cause itself (its checks catch every error)."""
    with redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=3, socket_connect_timeout=3
    ) as probe:
        probe.ping()
