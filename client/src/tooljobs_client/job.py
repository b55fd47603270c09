"""`Job`: one job on the server, its last known state, and what can be done with it."""

import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tooljobs_client.errors import ApiError, Unreachable, WaitTimeout, error_for
from tooljobs_client.events import read_events
from tooljobs_client.models import TERMINAL_STATES, Artifact, JobState, as_state
from tooljobs_client.transport import Transport

# The longest `?wait=` the API holds a request for (GET /jobs/{id}).
LONGEST_POLL_SECONDS = 60
# A stream that says nothing for this long (it pings every 15 s) is taken for cut.
SILENT_STREAM_SECONDS = 45
CHUNK_BYTES = 1024 * 1024

# Called with the bytes written so far and the total size when the server said it.
ProgressCallback = Callable[[int, int | None], None]


class Job:
    """A job as the server last described it; `refresh()`, `watch()` and `wait()` update
    it. Its fields are those of `GET /api/v1/jobs/{id}` (`raw` holds them all)."""

    def __init__(self, client: Transport, data: dict[str, Any]) -> None:
        self._client = client
        self.raw: dict[str, Any] = data

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.tool} {self.state}>"

    @property
    def id(self) -> str:
        return str(self.raw["id"])

    @property
    def tool(self) -> str:
        return str(self.raw["tool"])

    @property
    def state(self) -> JobState:
        return as_state(self.raw["state"])

    @property
    def done(self) -> bool:
        """Whether the job has ended (succeeded, failed or cancelled): it will not change."""
        return self.state in TERMINAL_STATES

    @property
    def progress(self) -> float:
        """From 0 to 1, as the tool last reported."""
        return float(self.raw.get("progress") or 0.0)

    @property
    def message(self) -> str | None:
        """The tool's last progress message."""
        return self.raw.get("message")

    @property
    def inputs(self) -> dict[str, Any]:
        return dict(self.raw.get("inputs") or {})

    @property
    def outputs(self) -> dict[str, Any] | None:
        """The tool's outputs once the job succeeded; None before and otherwise."""
        return self.raw.get("outputs")

    @property
    def error(self) -> dict[str, Any] | None:
        """`{type, message}` of a failed job: type `tool_error`, `timeout`, ..."""
        return self.raw.get("error")

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.raw.get("labels") or {})

    @property
    def created_at(self) -> datetime:
        return datetime.fromisoformat(self.raw["created_at"])

    @property
    def finished_at(self) -> datetime | None:
        value = self.raw.get("finished_at")
        return None if value is None else datetime.fromisoformat(value)

    def refresh(self) -> "Job":
        """Read the job again; returns itself."""
        self.raw = self._client._send("GET", f"/jobs/{self.id}").json()
        return self

    def watch(self, timeout: float | None = None, *, events: bool = True) -> Iterator["Job"]:
        """Itself now and after each change, until the job ends (or `WaitTimeout` after
        `timeout` seconds). Follows the server's event stream, which tells each change;
        when that fails (a proxy that buffers, a stream cut), or with `events=False`,
        long polls of `GET /jobs/{id}?wait=`, which tell when the job ended."""
        deadline = None if timeout is None else time.monotonic() + timeout
        yield self
        if self.done:
            return
        if events:
            try:
                for _ in self._events(deadline):
                    yield self
                    if self.done:
                        return
            except Unreachable:
                pass  # the stream failed; long polls may still get through
        yield from self._long_polls(deadline)

    def wait(self, timeout: float | None = None, *, events: bool = True) -> "Job":
        """Wait until the job ends; returns itself, in whichever state it ended. Raises
        `WaitTimeout` when `timeout` seconds pass first (the job goes on). `events`: as
        for `watch`."""
        for _ in self.watch(timeout, events=events):
            pass
        return self

    def _events(self, deadline: float | None) -> Iterator[None]:
        """Each change as an SSE event updates `raw`; ends when the stream does."""
        headers = {"Accept": "text/event-stream"}
        silence: float = SILENT_STREAM_SECONDS
        if deadline is not None:
            # A read that outlasts the deadline ends the stream; the poll after it says so.
            silence = max(0.1, min(silence, deadline - time.monotonic() + 1))
        timeout = httpx.Timeout(30.0, read=silence)
        with self._client._stream(
            "GET", f"/jobs/{self.id}/events", headers=headers, timeout=timeout
        ) as response:
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                raise Unreachable("the answer is not an event stream")
            for event in read_events(response.iter_lines()):
                _check(deadline, self)
                if event.event == "job":
                    self.raw = json.loads(event.data)
                    yield None

    def _long_polls(self, deadline: float | None) -> Iterator["Job"]:
        while not self.done:
            remaining = LONGEST_POLL_SECONDS if deadline is None else deadline - time.monotonic()
            _check(deadline, self)
            wait = max(1, min(LONGEST_POLL_SECONDS, math.ceil(remaining)))
            before = self.raw
            self.raw = self._client._send(
                "GET",
                f"/jobs/{self.id}",
                params={"wait": wait},
                timeout=httpx.Timeout(30.0, read=wait + 30),
            ).json()
            if self.raw != before:
                yield self

    def logs(self, offset: int = 0) -> str:
        """The lines the tool logged so far, from line `offset` on."""
        return self._read_log(offset)[0]

    def follow_logs(self, offset: int = 0, *, poll_seconds: int = 1) -> Iterator[str]:
        """The log's text as it grows, chunk by chunk, until the job ended and all of it
        was read. Between reads it waits on the job (`?wait=`), so it ends at once when
        the job does."""
        while True:
            text, offset = self._read_log(offset)
            if text:
                yield text
            if self.done:
                text, offset = self._read_log(offset)
                if text:
                    yield text
                return
            self.raw = self._client._send(
                "GET", f"/jobs/{self.id}", params={"wait": poll_seconds}
            ).json()

    def _read_log(self, offset: int) -> tuple[str, int]:
        answer = self._client._send("GET", f"/jobs/{self.id}/logs", params={"offset": offset})
        return answer.text, int(answer.headers.get("X-Next-Offset", offset))

    def artifacts(self) -> list[Artifact]:
        """The job's output files."""
        answer = self._client._send("GET", f"/jobs/{self.id}/artifacts").json()
        return [Artifact.from_json(item) for item in answer]

    def download(
        self,
        name: str,
        dest: str | os.PathLike[str],
        *,
        on_progress: ProgressCallback | None = None,
    ) -> Path:
        """Stream the artifact `name` to `dest` (a file, or a folder to put it in under
        its name); returns the file's path. The file appears whole or not at all.

        When the server answers with a redirect to another host (a presigned URL of
        object storage), the download follows it without this client's credentials."""
        target = Path(dest)
        if target.is_dir():
            target = target / Path(name).name
        with self._client._stream("GET", f"/jobs/{self.id}/artifacts/{name}") as response:
            if not response.is_redirect:
                return _save(response, target, on_progress)
            location = response.url.join(response.headers["Location"])
        if self._client._same_origin(location):
            with self._client._stream("GET", str(location)) as response:
                return _save(response, target, on_progress)
        try:
            with httpx.stream("GET", location, timeout=30.0) as response:
                if response.is_error:
                    response.read()
                    raise error_for(response)
                return _save(response, target, on_progress)
        except httpx.TransportError as error:
            raise Unreachable(f"{location.host} did not answer: {error}") from error

    def cancel(self) -> "Job":
        """Ask the server to cancel the job: a queued one is cancelled at once, a running
        one stops within seconds (`wait()` for it). `Conflict` when it had ended."""
        self.raw = self._client._send("POST", f"/jobs/{self.id}/cancel").json()
        return self

    def delete(self) -> None:
        """Delete the ended job with its log and artifacts (`Conflict` while it runs)."""
        self._client._send("DELETE", f"/jobs/{self.id}")


def _check(deadline: float | None, job: Job) -> None:
    if deadline is not None and time.monotonic() >= deadline:
        raise WaitTimeout(f"job {job.id} is still {job.state}")


def _save(response: httpx.Response, target: Path, on_progress: ProgressCallback | None) -> Path:
    if response.is_redirect:
        raise ApiError(response.status_code, "redirected more than once", response.headers)
    length = response.headers.get("Content-Length")
    total = int(length) if length and length.isdigit() else None
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        dir=target.parent, prefix=f".{target.name}.", delete=False
    ) as partial:
        try:
            written = 0
            for chunk in response.iter_bytes(CHUNK_BYTES):
                partial.write(chunk)
                written += len(chunk)
                if on_progress is not None:
                    on_progress(written, total)
        except BaseException:
            partial.close()
            os.unlink(partial.name)
            raise
    os.replace(partial.name, target)
    return target
