"""Errors a client can cause, each with its HTTP status; mapped to responses in one place."""

from collections.abc import Sequence
from typing import Any


class ServiceError(Exception):
    status_code = 500

    def __init__(self, detail: Any) -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers the answer carries with the status and detail."""
        return {}


class NotFound(ServiceError):
    status_code = 404


class Conflict(ServiceError):
    status_code = 409


class Unavailable(ServiceError):
    """A backing service (database, Redis, broker) is down; the client may retry."""

    status_code = 503


class InvalidInput(ServiceError):
    """422 in FastAPI's own shape: a list of {loc, msg, type}, so clients parse one format."""

    status_code = 422

    def __init__(self, errors: Sequence[dict[str, Any]]) -> None:
        super().__init__(list(errors))

    @classmethod
    def at(cls, loc: Sequence[str | int], msg: str, error_type: str) -> "InvalidInput":
        return cls([{"loc": list(loc), "msg": msg, "type": error_type}])


class Gone(ServiceError):
    """It existed and was deleted on purpose (a retention tombstone keeps its id)."""

    status_code = 410


class RateLimited(ServiceError):
    status_code = 429

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}
