"""What a Job asks of the Client that made it: requests to the same server, with the same
credentials. A protocol, so that job.py needs nothing of client.py."""

from contextlib import AbstractContextManager
from typing import Any, Protocol

import httpx


class Transport(Protocol):
    def _send(self, method: str, path: str, **options: Any) -> httpx.Response: ...

    def _stream(
        self, method: str, path: str, **options: Any
    ) -> AbstractContextManager[httpx.Response]: ...

    def _same_origin(self, url: httpx.URL) -> bool: ...
