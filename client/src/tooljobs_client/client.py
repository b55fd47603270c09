"""`Client`: a connection to one tooljobs server, as one user."""

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from tooljobs_client.errors import Unreachable, error_for
from tooljobs_client.job import Job
from tooljobs_client.models import JobState, Tool, UploadedFile

API_PREFIX = "/api/v1"

StrPath = str | os.PathLike[str]
# A file input is one path, or a list of them for an input that takes a list of files.
FileArgument = StrPath | Sequence[StrPath]


class Client:
    """A tooljobs server, as the user of a bearer `token` or an `api_key`.

    `url` is the server's address (`http://127.0.0.1:8000`); its API is under `/api/v1`,
    added when missing. Use it as a context manager, or `close()` it, to free its
    connections::

        with Client("http://127.0.0.1:8000", api_key="tj_...") as client:
            job = client.submit("echo", message="hi").wait(timeout=60)
            print(job.state, job.outputs)
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        api_key: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        if token and api_key:
            raise ValueError("give a token or an api_key, not both")
        headers = {"User-Agent": "tooljobs-client"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if api_key:
            headers["X-API-Key"] = api_key
        base = url.rstrip("/")
        self.url = base if base.endswith(API_PREFIX) else base + API_PREFIX
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    @classmethod
    def login(cls, url: str, username: str, password: str, *, timeout: float = 30.0) -> Self:
        """A client with a new bearer token for this user's email and password
        (`client.token` holds it, to keep)."""
        anonymous = cls(url, timeout=timeout)
        try:
            answer = anonymous._send(
                "POST", "/login/access-token", data={"username": username, "password": password}
            ).json()
        finally:
            anonymous.close()
        return cls(url, token=answer["access_token"], timeout=timeout)

    @property
    def token(self) -> str | None:
        """The bearer token this client sends, if it has one."""
        value = self._http.headers.get("Authorization", "")
        return value.removeprefix("Bearer ") or None

    def close(self) -> None:
        """Close the connections this client keeps open."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def me(self) -> dict[str, Any]:
        """The calling user (`email`, `id`, `is_superuser`, ...)."""
        result: dict[str, Any] = self._send("GET", "/users/me").json()
        return result

    def tools(self) -> list[Tool]:
        """The tools the server runs."""
        return [Tool.from_json(item) for item in self._send("GET", "/tools").json()]

    def tool(self, name: str) -> Tool:
        """One tool, with its input and output JSON Schema (`NotFound` if unknown)."""
        return Tool.from_json(self._send("GET", f"/tools/{name}").json())

    def upload(self, path: StrPath, *, name: str | None = None) -> UploadedFile:
        """Upload a file (streamed from disk) for a tool input to refer to by its id."""
        source = Path(path)
        with source.open("rb") as content:
            answer = self._send(
                "POST",
                "/files",
                files={"file": (name or source.name, content, "application/octet-stream")},
            )
        return UploadedFile.from_json(answer.json())

    def submit(
        self,
        tool: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        files: Mapping[str, FileArgument] | None = None,
        priority: int | None = None,
        labels: Mapping[str, str] | None = None,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
        **input_values: Any,
    ) -> Job:
        """Submit a job of `tool`; returns it queued (`job.wait()` follows it).

        Inputs are keyword arguments (`message="hi"`), or the `inputs` mapping for names
        that are not Python identifiers or that clash with this method's own. `files`
        maps file inputs to local paths (or lists of paths): each is uploaded first, and
        the input gets its id. With `idempotency_key`, submitting the same request again
        gives the same job.
        """
        values: dict[str, Any] = {**(inputs or {}), **input_values}
        for key, paths in (files or {}).items():
            if isinstance(paths, str | os.PathLike):
                values[key] = self.upload(paths).id
            else:
                values[key] = [self.upload(path).id for path in paths]
        body: dict[str, Any] = {"tool": tool, "inputs": values}
        if priority is not None:
            body["priority"] = priority
        if labels:
            body["labels"] = dict(labels)
        if callback_url is not None:
            body["callback_url"] = callback_url
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return Job(self, self._send("POST", "/jobs", json=body, headers=headers).json())

    def job(self, job_id: str) -> Job:
        """A job by its id (`NotFound` for an unknown one or another user's)."""
        return Job(self, self._send("GET", f"/jobs/{job_id}").json())

    def jobs(
        self,
        *,
        tool: str | None = None,
        state: JobState | None = None,
        label: str | None = None,
        page_size: int = 100,
    ) -> Iterator[Job]:
        """Your jobs (every user's for a superuser), newest first, page after page until
        the last. Filters combine; `label` is `"key:value"`."""
        params: dict[str, str | int] = {"limit": page_size}
        for name, value in (("tool", tool), ("state", state), ("label", label)):
            if value is not None:
                params[name] = value
        while True:
            page = self._send("GET", "/jobs", params=params).json()
            for item in page["items"]:
                yield Job(self, item)
            if not page.get("next_cursor"):
                return
            params["cursor"] = page["next_cursor"]

    def _send(self, method: str, path: str, **options: Any) -> httpx.Response:
        """One request; the answer when it is a success, else its typed error."""
        try:
            response = self._http.request(method, path, **options)
        except httpx.TransportError as error:
            raise Unreachable(f"{self.url} did not answer: {error}") from error
        if response.is_error:
            raise error_for(response)
        return response

    @contextmanager
    def _stream(self, method: str, path: str, **options: Any) -> Iterator[httpx.Response]:
        """A streamed answer that is a success or a redirect (else its typed error)."""
        try:
            with self._http.stream(method, path, **options) as response:
                if response.is_error:
                    response.read()
                    raise error_for(response)
                yield response
        except httpx.TransportError as error:
            raise Unreachable(f"{self.url} did not answer: {error}") from error

    def _same_origin(self, url: httpx.URL) -> bool:
        return url.scheme == self._http.base_url.scheme and url.netloc == self._http.base_url.netloc
