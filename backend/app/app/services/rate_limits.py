"""Rate limits: job submits per principal, logins per account and per client address.

Fixed windows counted in Redis (app.worker.redis_db.rate_limits). A login, and a batch,
is counted by one Redis call; single submits are counted in the round trip that their
group makes anyway (app.services.submit_groups). A caller may reach twice the limit
across the edge of two windows; a sliding window would cost more Redis work on every
submit.
"""

import hashlib
import uuid

from app.core.config import settings
from app.services.errors import RateLimited
from app.worker.redis_db import rate_limits
from app.worker.redis_db.rate_limits import Window

# The settings count per minute (tests shorten the window to see it reset).
WINDOW_SECONDS = 60
SUBMIT_COUNTER = "submit"
_SUBMITS = "job submissions"


def submit_window_seconds() -> int | None:
    """The window in which submits are counted; None when they are not limited."""
    return WINDOW_SECONDS if settings.RATE_LIMIT_SUBMIT_PER_MINUTE else None


def count_submit(principal_id: uuid.UUID) -> None:
    """Count a job submit; RateLimited past RATE_LIMIT_SUBMIT_PER_MINUTE."""
    _count(settings.RATE_LIMIT_SUBMIT_PER_MINUTE, SUBMIT_COUNTER, str(principal_id), what=_SUBMITS)


def check_counted_submit(counted: Window | None, submits: int, position: int) -> None:
    """RateLimited when the submit at `position` (from 0) of `submits` that were counted
    together, `counted` being their principal's window after them, passed the limit."""
    _check(
        settings.RATE_LIMIT_SUBMIT_PER_MINUTE,
        counted,
        later_hits=submits - 1 - position,
        what=_SUBMITS,
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
    _check(per_window, rate_limits.hit(WINDOW_SECONDS, identifiers), later_hits=0, what=what)


def _check(per_window: int, counted: Window | None, *, later_hits: int, what: str) -> None:
    """RateLimited when the hit that `later_hits` more followed in `counted` passed
    `per_window`."""
    if not per_window or counted is None:
        return  # not limited, or Redis did not answer
    if counted.hits - later_hits > per_window:
        retry_after = counted.resets_in_seconds
        raise RateLimited(f"too many {what}; retry in {retry_after} s", retry_after)
