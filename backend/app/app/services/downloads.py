"""How a stored object reaches the client who may read it: a presigned URL of the store
(S3), or its bytes streamed through the API (local storage, or STORAGE_DOWNLOADS=proxy).
The caller has checked ownership first."""

from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import quote, urlsplit

from app.core.config import settings
from app.core.storage import storage
from app.services.errors import NotFound


@dataclass(frozen=True)
class Redirect:
    """The client fetches the object from the store itself, at `url`, for a short time."""

    url: str


@dataclass(frozen=True)
class Stream:
    """The object's bytes, which the API sends with these headers."""

    stream: BinaryIO
    content_type: str
    content_disposition: str
    size: int


Download = Redirect | Stream


def attachment(name: str) -> str:
    """The Content-Disposition of a download saved under `name` (RFC 6266, any characters)."""
    return f"attachment; filename*=UTF-8''{quote(name)}"


def download(key: str, *, name: str, content_type: str, size: int, missing: str) -> Download:
    """The object under `key`; NotFound(`missing`) when storage has nothing to serve."""
    disposition = attachment(name)
    try:
        if settings.STORAGE_DOWNLOADS == "redirect":
            url = storage().presigned_url(
                key,
                seconds=settings.STORAGE_PRESIGNED_URL_SECONDS,
                content_type=content_type,
                content_disposition=disposition,
            )
            if url is not None:
                return Redirect(url)
        stream = storage().open(key)
    except (FileNotFoundError, ValueError):
        # Its bytes are gone, or the key leads out of storage: nothing to serve.
        raise NotFound(missing) from None
    return Stream(stream, content_type, disposition, size)


def store_origin() -> str | None:
    """The origin (scheme://host[:port]) downloads redirect to, which the jobs page's CSP
    lets it fetch from; None when every download goes through the API. Read from a URL
    signed for it (locally, without a request to the store: cheap enough for the few
    answers that are the page)."""
    if settings.STORAGE_DOWNLOADS != "redirect":
        return None
    url = storage().presigned_url(
        "origin", seconds=1, content_type="text/plain", content_disposition=attachment("origin")
    )
    if url is None:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
