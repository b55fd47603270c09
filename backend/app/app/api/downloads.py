"""A download as HTTP: a 307 to the store's presigned URL, or the bytes streamed."""

from collections.abc import Iterator

from fastapi.responses import RedirectResponse, Response, StreamingResponse

from app.api.responses import Responses, error
from app.core.storage import read_chunks
from app.services.downloads import Download, Redirect


def download_response(download: Download) -> Response:
    if isinstance(download, Redirect):
        # 307 and not 302: the client repeats the same GET at the store.
        return RedirectResponse(download.url, status_code=307)
    stream = download.stream

    def chunks() -> Iterator[bytes]:
        with stream:
            yield from read_chunks(stream)

    return StreamingResponse(
        chunks(),
        # The stored type as it is (no charset added to text/*), as the store serves it.
        headers={
            "Content-Type": download.content_type,
            "Content-Length": str(download.size),
            "Content-Disposition": download.content_disposition,
        },
    )


# An artifact or file download on S3 storage, for OpenAPI.
REDIRECT: Responses = {
    307: {
        "description": "With S3 storage (and STORAGE_DOWNLOADS=redirect): the bytes are "
        "at the presigned URL in `Location`, valid STORAGE_PRESIGNED_URL_SECONDS, "
        "which answers with the same Content-Type and Content-Disposition.",
        "headers": {
            "Location": {
                "description": "A presigned URL of the object in the store.",
                "schema": {"type": "string", "format": "uri"},
            }
        },
    }
}


def download_responses(not_found: str) -> Responses:
    """What a download route answers, for OpenAPI."""
    return {
        200: {
            "description": "The bytes, through the API (local storage, or "
            "STORAGE_DOWNLOADS=proxy), saved as the file's name (Content-Disposition)."
        },
        **REDIRECT,
        404: error(not_found),
    }
