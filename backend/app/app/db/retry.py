"""Doing a unit of database work again while the database is out of reach."""

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from app.core.config import settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_DELAY_SECONDS = 0.2
MAX_DELAY_SECONDS = 2.0


def retry_while_unreachable(session: Session, what: str, work: Callable[[], T]) -> T:
    """`work()`, again after a pause each time the database could not be reached or
    dropped the connection, for up to DATABASE_RETRY_SECONDS; then the error.

    Between tries the session is rolled back, so that `work` starts on a fresh
    connection. `work` must be safe to run twice: a commit whose answer was lost may
    have been made.
    """
    deadline = time.monotonic() + settings.DATABASE_RETRY_SECONDS
    delay = FIRST_DELAY_SECONDS
    while True:
        try:
            return work()
        except (OperationalError, InterfaceError) as error:
            session.rollback()
            if time.monotonic() + delay > deadline:
                raise
            logger.warning(
                "database unavailable (%s): %s; retrying in %.1fs", what, error.orig, delay
            )
            time.sleep(delay)
            delay = min(delay * 2, MAX_DELAY_SECONDS)
