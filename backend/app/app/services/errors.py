"""What goes wrong that a caller can cause or wait out, in the domain's words.

Services raise these; the API maps each to a status code in one place
(`app.api.errors`), and the worker, which calls services too, never sees HTTP.
"""

from collections.abc import Sequence
from dataclasses import dataclass

# A field's place in what the caller sent: names of fields, and indexes of list items.
FieldPath = tuple[str | int, ...]


class ServiceError(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(ServiceError):
    """Unknown, or someone else's: the two read the same."""


class Gone(ServiceError):
    """It existed and was deleted on purpose (a retention tombstone keeps its id)."""


class Conflict(ServiceError):
    """Not in a state that allows this."""


class TooLarge(ServiceError):
    """Past a size limit."""


class Unavailable(ServiceError):
    """A backing service (database, Redis, broker) is down; the caller may retry."""


class RateLimited(ServiceError):
    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True)
class FieldError:
    """One invalid field: where it is in what was sent, why, and a stable type."""

    path: FieldPath
    message: str
    type: str


class InvalidInput(ServiceError):
    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors))
        self.errors = list(errors)

    @classmethod
    def at(cls, path: FieldPath, message: str, error_type: str) -> "InvalidInput":
        return cls([FieldError(path, message, error_type)])


class UnknownReference(InvalidInput):
    """Inputs that name an object (an upload) the caller cannot see: unknown, as any
    other id of an unknown or someone else's object, but said of the field naming it."""
