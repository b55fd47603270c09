"""Fixed-window counters in Redis, through the `limits` library: one counter per caller
and window, which a Lua script increments and gives its expiry in one round trip."""

import logging
import math
import time
from functools import cache

from limits import RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter

from app.worker.redis_db import keys
from app.worker.redis_db.connection import client

logger = logging.getLogger(__name__)


@cache
def _limiter() -> FixedWindowRateLimiter:
    # The app's own Redis connections, so also the embedded stack's Unix socket.
    storage = RedisStorage(
        "redis://",
        connection_pool=client().connection_pool,
        key_prefix=keys.RATE_LIMITS_PREFIX,
        wrap_exceptions=True,
    )
    return FixedWindowRateLimiter(storage)


def hit(per_window: int, window_seconds: int, *identifiers: str) -> int | None:
    """Count one hit; None while within `per_window`, else the seconds until the
    window resets. None too when Redis does not answer: the limits guard against abuse,
    and refusing every call while Redis is down would turn a lost cache into an outage."""
    limit = RateLimitItemPerSecond(per_window, window_seconds)
    limiter = _limiter()
    try:
        if limiter.hit(limit, *identifiers):
            return None
        resets_at = limiter.get_window_stats(limit, *identifiers).reset_time
    except StorageError as error:
        logger.warning("rate limit not checked, Redis unavailable: %r", error.storage_error)
        return None
    return max(1, math.ceil(resets_at - time.time()))
