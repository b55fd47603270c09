"""Typed errors: one class per kind of refusal the API answers, each carrying its detail.

Catch `TooljobsError` for all of them, `ApiError` for any answer of the API that is not a
success, or one subclass (`NotFound`, `InvalidInput`, ...) for the case at hand.
"""

from dataclasses import dataclass
from typing import Any

import httpx


class TooljobsError(Exception):
    """Anything this client raises on purpose."""


class Unreachable(TooljobsError):
    """The server did not answer: refused, unknown host, timed out, connection cut."""


class WaitTimeout(TooljobsError, TimeoutError):
    """`Job.wait` gave up before the job ended; the job itself goes on."""


class ApiError(TooljobsError):
    """An answer of the API that is not a success: its status code and its `detail`."""

    status_code: int = 0

    def __init__(self, status_code: int, detail: Any, headers: httpx.Headers) -> None:
        self.status_code = status_code
        self.detail = detail
        self.headers = headers
        super().__init__(self._message())

    def _message(self) -> str:
        return f"{self.status_code}: {self.detail}"


class BadRequest(ApiError):
    """400, 405 or 415: a request the API cannot read (a client bug, not a user's)."""


class Unauthorized(ApiError):
    """401: no credentials, or expired, revoked or wrong ones."""


class Forbidden(ApiError):
    """403: these credentials may not do this (a superuser's route)."""


class NotFound(ApiError):
    """404: no such object, or another user's (the API does not tell which)."""


class Gone(NotFound):
    """410: a job that retention deleted (its id is still known)."""


class Conflict(ApiError):
    """409: not in this state (cancel of an ended job, an idempotency key reused)."""


class TooLarge(ApiError):
    """413: an upload or a body past the server's limit."""


@dataclass(frozen=True)
class FieldError:
    """One refused field: where it is (`("body", "inputs", "message")`), why, and the
    machine-readable kind (`missing`, `unknown_tool`, ...)."""

    loc: tuple[str | int, ...]
    msg: str
    type: str

    @property
    def path(self) -> str:
        """The location as one dotted string, `body.inputs.message`."""
        return ".".join(str(part) for part in self.loc)


class InvalidInput(ApiError):
    """422: invalid input; `errors` names each field that was refused."""

    def __init__(self, status_code: int, detail: Any, headers: httpx.Headers) -> None:
        self.errors = _field_errors(detail)
        super().__init__(status_code, detail, headers)

    @property
    def fields(self) -> list[tuple[str | int, ...]]:
        """The location of each refused field, as the API names it."""
        return [error.loc for error in self.errors]

    def _message(self) -> str:
        if not self.errors:
            return super()._message()
        return "invalid input: " + "; ".join(f"{e.path}: {e.msg}" for e in self.errors)


class RateLimited(ApiError):
    """429: too many submits or logins; `retry_after` says in how many seconds to retry."""

    def __init__(self, status_code: int, detail: Any, headers: httpx.Headers) -> None:
        try:
            self.retry_after: float | None = float(headers["Retry-After"])
        except (KeyError, ValueError):
            self.retry_after = None
        super().__init__(status_code, detail, headers)


class ServiceUnavailable(ApiError):
    """503: a service behind the API (database, Redis, broker, storage) is down; retry."""


class ServerError(ApiError):
    """Any other 5xx."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: BadRequest,
    409: Conflict,
    410: Gone,
    413: TooLarge,
    415: BadRequest,
    422: InvalidInput,
    429: RateLimited,
    503: ServiceUnavailable,
}


def error_for(response: httpx.Response) -> ApiError:
    """The typed error of an unsuccessful answer (read it first when it was streamed)."""
    try:
        detail: Any = response.json().get("detail", response.text)
    except (ValueError, AttributeError):
        detail = response.text
    kind = _BY_STATUS.get(response.status_code)
    if kind is None:
        kind = ServerError if response.status_code >= 500 else ApiError
    return kind(response.status_code, detail, response.headers)


def _field_errors(detail: Any) -> list[FieldError]:
    if not isinstance(detail, list):
        return []
    return [
        FieldError(
            loc=tuple(item.get("loc", ())),
            msg=str(item.get("msg", "")),
            type=str(item.get("type", "")),
        )
        for item in detail
        if isinstance(item, dict)
    ]
