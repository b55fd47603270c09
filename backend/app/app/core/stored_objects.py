"""What every storage backend (app.core.storage, app.core.s3_storage) shares: the
interface, what a write answers, and its errors."""

from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol


class ObjectTooLarge(Exception):
    """The content passed the size limit; nothing was kept."""


class StorageUnavailable(Exception):
    """The store cannot be reached now (an outage, not a refusal); the caller may retry."""


@dataclass(frozen=True)
class StoredObject:
    size: int
    sha256: str


class Storage(Protocol):
    def write(
        self, key: str, chunks: Iterable[bytes], *, max_bytes: int | None = None
    ) -> StoredObject:
        """Store the chunks under `key`, hashing them on the way."""

    def open(self, key: str) -> BinaryIO:
        """Read what is stored under `key`; FileNotFoundError when nothing is."""

    def local_path(self, key: str) -> AbstractContextManager[Path]:
        """A local file with the content of `key`, for programs that need a path."""

    def delete(self, key: str) -> None:
        """Remove `key`, or every key under it when it is a prefix; no error when absent."""

    def presigned_url(
        self, key: str, *, seconds: int, content_type: str, content_disposition: str
    ) -> str | None:
        """A URL from which a client reads `key` for `seconds` without us, answered with
        these Content-Type and Content-Disposition headers; None when the backend has no
        such URL (a local directory), and the object is served through the API."""
