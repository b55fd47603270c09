"""Streaming a stored object to the client as a download."""

from collections.abc import Iterator
from typing import BinaryIO
from urllib.parse import quote

from fastapi.responses import StreamingResponse

from app.core.storage import read_chunks


def download(stream: BinaryIO, name: str, content_type: str, size: int) -> StreamingResponse:
    def chunks() -> Iterator[bytes]:
        with stream:
            yield from read_chunks(stream)

    return StreamingResponse(
        chunks(),
        media_type=content_type,
        headers={
            "Content-Length": str(size),
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        },
    )
