"""Rate limits, counted in Redis: job submits per principal, logins per account and per
client address.

Fixed windows, through the `limits` library: one counter per caller and window, which
a Lua script increments and gives its expiry in one round trip, so the check costs the
submit path one Redis call. A caller may reach twice the limit across the edge of two
windows; a sliding window would cost more Redis work on every submit.
"""

import hashlib
import logging
import math
import time
import uuid
from functools import cache

from limits import RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter

from app.core.config import settings
from app.services.errors import RateLimited
from app.worker import redis_db

logger = logging.getLogger(__name__)

# The settings count per minute (tests shorten the window to see it reset).
WINDOW_SECONDS = 60


@cache
def _limiter() -> FixedWindowRateLimiter:
    # The app's own Redis connections, so also the embedded stack's Unix socket.
    storage = RedisStorage(
        "redis://",
        connection_pool=redis_db.client().connection_pool,
        key_prefix=f"{redis_db.PREFIX}:rate",
        wrap_exceptions=True,
    )
    return FixedWindowRateLimiter(storage)


def count_submit(principal_id: uuid.UUID) -> None:
    """Count a job submit; RateLimited past RATE_LIMIT_SUBMIT_PER_MINUTE."""
    _count(
        settings.RATE_LIMIT_SUBMIT_PER_MINUTE, "submit", str(principal_id), what="job submissions"
    )


def count_login(email: str, address: str) -> None:
    """Count a login attempt from `address` for `email`, before the password is checked.

    The address is counted first: an attempt it refuses does not count against the
    account, so one client cannot use up another's account budget past its own limit.
    """
    _count(
        settings.RATE_LIMIT_LOGIN_PER_ADDRESS_PER_MINUTE,
        "login-address",
        address,
        what="login attempts from this address",
    )
    # Hashed: the key stays short whatever was typed, and Redis holds no addresses.
    account = hashlib.sha256(email.lower().encode()).hexdigest()
    _count(
        settings.RATE_LIMIT_LOGIN_PER_MINUTE,
        "login-account",
        account,
        what="login attempts for this account",
    )


def _count(per_window: int, *identifiers: str, what: str) -> None:
    if per_window == 0:
        return
    limit = RateLimitItemPerSecond(per_window, WINDOW_SECONDS)
    limiter = _limiter()
    try:
        if limiter.hit(limit, *identifiers):
            return
        resets_at = limiter.get_window_stats(limit, *identifiers).reset_time
    except StorageError as error:
        # Fail open: the limits guard against abuse, and refusing every submit and login
        # while Redis is down would turn a lost cache into a full outage.
        logger.warning("rate limit not checked, Redis unavailable: %r", error.storage_error)
        return
    retry_after = max(1, math.ceil(resets_at - time.time()))
    raise RateLimited(f"too many {what}; retry in {retry_after} s", retry_after)
