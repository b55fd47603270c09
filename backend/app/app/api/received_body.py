"""A request's body as it arrives, for a use-case running in a worker thread."""

from collections.abc import Iterator

from anyio import from_thread
from starlette.requests import ClientDisconnect, Request


def received_chunks(request: Request) -> Iterator[bytes]:
    """The body's chunks as the client sends them, each read on the event loop when the
    thread iterating asks for it (memory holds one chunk; uvicorn stops reading the
    socket meanwhile). Ends with the body, or where the client left: what arrived is
    the caller's to keep."""
    stream = request.stream()

    async def next_chunk() -> bytes | None:
        try:
            return await anext(stream)
        except (StopAsyncIteration, ClientDisconnect):
            return None

    while (chunk := from_thread.run(next_chunk)) is not None:
        if chunk:
            yield chunk
