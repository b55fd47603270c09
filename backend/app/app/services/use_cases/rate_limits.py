"""Rate limits: job submits per principal, logins per account and per client address.

Fixed windows counted in Redis (app.worker.redis_db.rate_limits), so the check costs
the submit path one Redis call. A caller may reach twice the limit across the edge of
two windows; a sliding window would cost more Redis work on every submit.
"""

import hashlib
import uuid

from app.core.config import settings
from app.services.errors import RateLimited
from app.worker.redis_db import rate_limits

# The settings count per minute (tests shorten the window to see it reset).
WINDOW_SECONDS = 60


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
    retry_after = rate_limits.hit(per_window, WINDOW_SECONDS, *identifiers)
    if retry_after is not None:
        raise RateLimited(f"too many {what}; retry in {retry_after} s", retry_after)
