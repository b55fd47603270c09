"""Server-Sent Events read line by line from a streamed httpx answer.

Written here rather than taken from httpx-sse because a reader that waits for a job
must see the server's keep-alive comments too (every 15 s), to give up at its own
deadline; httpx-sse swallows them. The format is the WHATWG one, of which the API uses
`event`, `data` and `id`.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """One event; a keep-alive comment is an event whose `event` is empty."""

    event: str
    data: str
    id: str | None


KEEP_ALIVE = Event(event="", data="", id=None)


def read_events(lines: Iterable[str]) -> Iterator[Event]:
    """The events of a stream, and `KEEP_ALIVE` for each comment line."""
    event, data, event_id = "message", list[str](), None
    for line in lines:
        if not line:
            if data:
                yield Event(event=event, data="\n".join(data), id=event_id)
            event, data = "message", []
            continue
        if line.startswith(":"):
            yield KEEP_ALIVE
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            event_id = value
