"""The Python client (client/, tooljobs_client) against a real API process and a real
worker: files up, jobs followed over SSE or long polls, outputs, logs, artifacts down,
cancel, typed errors, every page of the job list; and a redirected download that keeps
the API's credentials away from the other host."""

import gzip
import hashlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from tooljobs_client import (
    Client,
    Conflict,
    InvalidInput,
    Job,
    NotFound,
    RateLimited,
    Unauthorized,
    Unreachable,
    WaitTimeout,
)

from tests.support.ports import free_port
from tests.support.users import make_api_key, make_user


@pytest.fixture
def client(api_url: str, worker: subprocess.Popen[bytes]) -> Iterator[Client]:
    with Client(api_url, token=make_user("user@example.com")) as user_client:
        yield user_client


def test_submit_with_a_file_wait_and_download_the_artifact(client: Client, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"a few words\n" * 1000)

    job = client.submit("compress", files={"file": notes}, level=9)
    assert job.state == "queued"
    uploaded = job.inputs["file"]
    assert job.wait(timeout=60) is job

    assert job.state == "succeeded", job.error
    assert job.outputs is not None
    assert job.outputs["artifact"] == "notes.txt.gz"
    assert job.outputs["size_in"] == 12000
    [artifact] = job.artifacts()
    assert artifact.name == "notes.txt.gz"
    (tmp_path / "out").mkdir()
    saved = job.download(artifact.name, tmp_path / "out")
    assert saved == tmp_path / "out" / "notes.txt.gz"
    assert job.download(artifact.name, tmp_path / "copy.gz").read_bytes() == saved.read_bytes()
    assert gzip.decompress(saved.read_bytes()) == notes.read_bytes()
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == artifact.sha256
    assert client.job(job.id).inputs["file"] == uploaded


def test_wait_follows_each_change_over_the_event_stream(client: Client) -> None:
    job = client.submit("sleep", seconds=1.5, steps=5)
    seen = [(snapshot.state, snapshot.progress) for snapshot in job.watch(timeout=60)]
    assert seen[-1] == ("succeeded", 1.0)
    # Long polls answer only at the end; the stream tells each step on the way.
    assert len({progress for state, progress in seen if state == "running"}) >= 3, seen
    assert job.logs().splitlines() == [f"slept step {step}" for step in range(1, 6)]
    assert job.logs(offset=3).splitlines() == ["slept step 4", "slept step 5"]


def test_wait_without_the_event_stream_long_polls_to_the_end(client: Client) -> None:
    job = client.submit("sleep", seconds=1, steps=2).wait(timeout=60, events=False)
    assert job.state == "succeeded"
    assert job.outputs is not None
    assert job.outputs["slept"] >= 1


def test_wait_gives_up_at_its_timeout_and_the_job_goes_on(client: Client) -> None:
    job = client.submit("sleep", seconds=30, steps=300)
    with pytest.raises(WaitTimeout):
        job.wait(timeout=1)
    assert not job.done
    job.cancel().wait(timeout=30)
    assert job.state == "cancelled"


def test_cancel_a_running_job(client: Client) -> None:
    job = client.submit("sleep", seconds=60, steps=600)
    for snapshot in job.watch(timeout=30):
        if snapshot.state == "running":
            break
    assert job.cancel().raw["cancel_requested"] is True
    assert job.wait(timeout=30).state == "cancelled"
    with pytest.raises(Conflict) as ended:
        job.cancel()
    assert ended.value.status_code == 409


def test_follow_logs_reads_the_log_as_it_grows_to_the_end(client: Client) -> None:
    job = client.submit("sleep", seconds=1, steps=4)
    text = "".join(job.follow_logs())
    assert job.done
    assert text.splitlines() == [f"slept step {step}" for step in range(1, 5)]


def test_another_users_job_is_not_found(client: Client, api_url: str) -> None:
    job = client.submit("echo", message="mine")
    with Client(api_url, token=make_user("other@example.com")) as other:
        with pytest.raises(NotFound) as missing:
            other.job(job.id)
        with pytest.raises(NotFound):
            Job(other, job.raw).cancel()
    assert missing.value.status_code == 404
    assert missing.value.detail == "job not found"


def test_invalid_input_names_each_field(client: Client) -> None:
    with pytest.raises(InvalidInput) as refused:
        client.submit("echo", mesage="typo")
    assert ("body", "inputs", "message") in refused.value.fields
    assert ("body", "inputs", "mesage") in refused.value.fields
    assert "body.inputs.message" in str(refused.value)
    with pytest.raises(InvalidInput) as unknown:
        client.submit("no-such-tool")
    assert unknown.value.errors[0].type == "unknown_tool"


def test_jobs_iterates_over_every_page_with_the_filters(client: Client) -> None:
    submitted = [client.submit("echo", message=str(n), labels={"run": "paged"}) for n in range(5)]
    client.submit("echo", message="unlabelled")

    listed = list(client.jobs(label="run:paged", page_size=2))

    assert [job.id for job in listed] == [job.id for job in reversed(submitted)]
    assert list(client.jobs(tool="sleep")) == []
    assert {job.tool for job in client.jobs(tool="echo", page_size=4)} == {"echo"}
    assert len(list(client.jobs(tool="echo", page_size=4))) == 6


def test_tools_describe_their_inputs_and_file_inputs(client: Client) -> None:
    tools = {tool.name: tool for tool in client.tools()}
    assert {"echo", "compress", "sleep", "text-stats"} <= set(tools)
    assert tools["compress"].file_inputs == ["file"]
    assert tools["text-stats"].file_inputs == ["file"]
    assert tools["echo"].file_inputs == []
    assert client.tool("echo").input_type("message") == "string"
    with pytest.raises(NotFound):
        client.tool("no-such-tool")


def test_api_keys_and_bad_credentials(api_url: str) -> None:
    token = make_user("user@example.com")
    with Client(api_url, api_key=make_api_key(token)) as scripted:
        assert scripted.me()["email"] == "user@example.com"
    with Client(api_url, token="not-a-token") as wrong, pytest.raises(Unauthorized):
        wrong.tools()
    with Client(api_url) as anonymous, pytest.raises(Unauthorized):
        anonymous.tools()


def test_login_and_its_rate_limit_carries_the_retry_time(api_url: str) -> None:
    make_user("user@example.com", password="password-123")
    with Client.login(api_url, "user@example.com", "password-123") as signed_in:
        assert signed_in.token
        assert signed_in.me()["email"] == "user@example.com"
    with pytest.raises(RateLimited) as limited:  # noqa: PT012
        for _ in range(20):
            try:
                Client.login(api_url, "user@example.com", "wrong password")
            except Unauthorized:
                continue
    assert limited.value.status_code == 429
    assert limited.value.retry_after is not None
    assert 0 < limited.value.retry_after <= 60


def test_an_unreachable_server_is_unreachable() -> None:
    with Client(f"http://127.0.0.1:{free_port()}") as nowhere, pytest.raises(Unreachable):
        nowhere.tools()


def imported_by(module: str, folder: Path) -> set[str]:
    """The top-level packages that importing `module` loads, in a fresh interpreter."""
    loaded = subprocess.run(
        [sys.executable, "-c", f"import sys, {module}; print(*sys.modules)"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return {name.partition(".")[0] for name in loaded}


def test_the_client_and_its_command_import_nothing_of_the_server(tmp_path: Path) -> None:
    server = {"app", "fastapi", "starlette", "pydantic", "sqlalchemy", "celery", "redis"}
    assert not server & imported_by("tooljobs_client.cli", tmp_path)
    # The library works without the cli extra (httpx itself loads click and rich when
    # they are installed, for its own command).
    assert "typer" not in imported_by("tooljobs_client", tmp_path)


class Redirecting(BaseHTTPRequestHandler):
    """Answers a download as S3 storage makes the API do: 307 to another host's URL."""

    target = ""

    def do_GET(self) -> None:
        self.send_response(307)
        self.send_header("Location", f"{self.target}/bucket/key?X-Amz-Signature=abc")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class Storage(BaseHTTPRequestHandler):
    """The other host: serves the bytes and keeps the headers it was sent."""

    seen: list[dict[str, str]] = []  # noqa: RUF012

    def do_GET(self) -> None:
        Storage.seen.append(dict(self.headers))
        body = b"artifact bytes"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_redirected_download_goes_to_the_other_host_without_credentials(
    tmp_path: Path,
) -> None:
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), handler) for handler in (Redirecting, Storage)]
    api, storage = servers
    # Another host by its address: localhost against 127.0.0.1.
    Redirecting.target = f"http://localhost:{storage.server_address[1]}"
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with Client(f"http://127.0.0.1:{api.server_address[1]}", token="secret-token") as client:
            job = Job(client, {"id": "4f8e5a0c-0000-4000-8000-000000000000"})
            saved = job.download("out.bin", tmp_path)
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    assert saved.read_bytes() == b"artifact bytes"
    [headers] = Storage.seen
    assert not {"authorization", "x-api-key"} & {name.lower() for name in headers}
