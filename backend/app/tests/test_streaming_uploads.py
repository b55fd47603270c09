"""POST /files streams the multipart body to storage as it arrives: on the local
directory and on S3 (moto's server), in-process and through real uvicorn processes
whose memory stays flat and which answer 413 before the client has sent everything."""

import hashlib
import http.client
import io
import os
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.core.config import settings
from app.core.s3_storage import PART_BYTES
from app.crud import file as file_crud
from app.db.session import SessionLocal
from app.models.file import File
from tests.support.ports import free_port
from tests.support.processes import answers, start_api, stop
from tests.support.s3 import S3Server
from tests.support.users import auth, make_user
from tests.support.waiting import wait_until

MIB = 1024 * 1024
BOUNDARY = "streaming-test-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


class GeneratedFile(io.RawIOBase):
    """`size` bytes made up as they are read, never held whole; hashed on the way. Not
    seekable and no file descriptor: httpx sends it chunked, without a Content-Length."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.left = size
        self.digest = hashlib.sha256()
        self.block = os.urandom(MIB)
        self.reads = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = min(self.left, MIB if size < 0 else size, MIB)
        # Every read different, so that a chunk dropped or stored twice changes the hash.
        self.reads += 1
        chunk = (self.reads.to_bytes(8) + self.block)[:size]
        self.left -= size
        self.digest.update(chunk)
        return chunk


def part(name: str, content: bytes, file_name: str | None = "f.bin") -> bytes:
    disposition = f'form-data; name="{name}"' + (
        "" if file_name is None else f'; filename="{file_name}"'
    )
    return (
        f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + content + b"\r\n"
    )


def closing() -> bytes:
    return f"--{BOUNDARY}--\r\n".encode()


def in_pieces(body: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def stored_files() -> list[Path]:
    """Everything under the uploads' folder of the local storage, half-written files too."""
    folder = settings.storage_dir / "files"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def files_recorded() -> int:
    with SessionLocal() as session:
        return session.scalar(select(func.count()).select_from(File)) or 0


# --- in-process, on the local directory ----------------------------------------------


def test_the_openapi_document_still_describes_a_multipart_form_with_a_binary_file(
    client: TestClient,
) -> None:
    operation = client.get("/api/v1/openapi.json").json()["paths"]["/api/v1/files"]["post"]
    form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert operation["requestBody"]["required"] is True
    assert form["required"] == ["file"]
    assert form["properties"]["file"]["type"] == "string"
    assert form["properties"]["file"]["format"] == "binary"
    assert {"201", "413", "422"} <= set(operation["responses"])


def test_a_body_arriving_in_small_pieces_is_stored_whole_with_its_size_and_sha256(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    content = os.urandom(3 * MIB + 7)
    # A field before the file and one after it: read and dropped. Pieces of 1000 bytes
    # cut the boundaries and headers anywhere.
    body = part("note", b"before", None) + part("file", content, "data.bin")
    body += part("other", b"after" * 100) + closing()
    response = client.post(
        "/api/v1/files",
        headers={**user_headers, "Content-Type": MULTIPART},
        content=in_pieces(body, 1000),
    )
    assert response.status_code == 201, response.text
    file = response.json()
    assert (file["name"], file["size"]) == ("data.bin", len(content))
    assert file["sha256"] == hashlib.sha256(content).hexdigest()
    downloaded = client.get(f"/api/v1/files/{file['id']}/content", headers=user_headers)
    assert downloaded.content == content


def test_an_empty_file_is_a_file(client: TestClient, user_headers: dict[str, str]) -> None:
    response = client.post(
        "/api/v1/files", headers=user_headers, files={"file": ("empty.txt", b"", "text/plain")}
    )
    assert response.status_code == 201, response.text
    assert (response.json()["size"], response.json()["sha256"]) == (
        0,
        hashlib.sha256(b"").hexdigest(),
    )


@pytest.mark.parametrize(
    ("content_type", "body", "error_type"),
    [
        ("application/json", b'{"file": "x"}', "missing"),
        ("multipart/form-data", part("file", b"x") + closing(), "missing"),  # no boundary
        (MULTIPART, part("document", b"x") + closing(), "missing"),
        (MULTIPART, b"", "missing"),
        # Cut before the closing boundary: not the whole file, so not kept.
        (MULTIPART, part("file", b"x" * 5000)[:-100], "multipart_invalid"),
        (MULTIPART, b"--not-the-boundary\r\n\r\n", "multipart_invalid"),
        (f"multipart/form-data; boundary={'b' * 100}", b"x", "multipart_invalid"),
    ],
)
def test_a_body_without_a_whole_file_part_is_422_naming_the_field(
    client: TestClient,
    user_headers: dict[str, str],
    content_type: str,
    body: bytes,
    error_type: str,
) -> None:
    response = client.post(
        "/api/v1/files", headers={**user_headers, "Content-Type": content_type}, content=body
    )
    assert response.status_code == 422, response.text
    [failure] = response.json()["detail"]
    assert (failure["loc"], failure["type"]) == (["body", "file"], error_type)
    assert stored_files() == []
    assert files_recorded() == 0


def test_a_chunked_body_past_the_limit_is_413_and_keeps_nothing(
    client: TestClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "MAX_UPLOAD_BYTES", 2 * MIB)
    # No Content-Length to refuse early: counted as it arrives.
    response = client.post(
        "/api/v1/files", headers=user_headers, files={"file": ("big.bin", GeneratedFile(3 * MIB))}
    )
    assert response.status_code == 413
    assert "MAX_UPLOAD_BYTES" in response.json()["detail"]
    assert stored_files() == []
    assert files_recorded() == 0


def test_parts_around_the_file_count_toward_the_limit(
    client: TestClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "MAX_UPLOAD_BYTES", MIB)
    body = part("padding", b"x" * 2 * MIB, None) + part("file", b"small") + closing()
    response = client.post(
        "/api/v1/files",
        headers={**user_headers, "Content-Type": MULTIPART},
        content=in_pieces(body, 64 * 1024),
    )
    assert response.status_code == 413
    assert stored_files() == []


def test_a_file_past_2_gib_is_recorded_with_its_size(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    # The column, not the upload (the benchmark sends 2 GiB through the API).
    user_id = client.get("/api/v1/users/me", headers=user_headers).json()["id"]
    size = 3 * 1024 * MIB
    with SessionLocal() as session:
        file = file_crud.create_file(
            session,
            File(
                id=uuid.uuid4(),
                owner_id=uuid.UUID(user_id),
                name="huge.bin",
                content_type="application/octet-stream",
                size=size,
                sha256="0" * 64,
            ),
        )
        session.commit()
    described = client.get(f"/api/v1/files/{file.id}", headers=user_headers)
    assert described.json()["size"] == size


# --- real uvicorn processes ------------------------------------------------------------


@contextmanager
def upload_started(
    port: int, headers: dict[str, str], sent: bytes, declared: int
) -> Iterator[http.client.HTTPConnection]:
    """A connection that sent the request and only the first bytes of its body; closed
    on leaving, as a client that goes away."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.putrequest("POST", "/api/v1/files")
        for name, value in {
            **headers,
            "Content-Type": MULTIPART,
            "Content-Length": str(declared),
        }.items():
            connection.putheader(name, value)
        connection.endheaders()
        for piece in in_pieces(sent, MIB):
            connection.send(piece)
        yield connection
    finally:
        connection.close()


def post_head_of_body(
    port: int, headers: dict[str, str], sent: bytes, declared: int
) -> tuple[int, dict[str, Any]]:
    """The answer to a request of which only the first bytes of the body were sent (the
    rest never comes, so only an endpoint that stops early can answer)."""
    with upload_started(port, headers, sent, declared) as connection:
        response = connection.getresponse()
        return response.status, httpx.Response(response.status, content=response.read()).json()


def head_of_large_upload(size: int) -> tuple[bytes, int]:
    """A file part's headers and first `size` bytes, and the length of a body 1 MiB longer
    (within the limits of the APIs here)."""
    head = part("file", b"z" * size, "left.bin")[:-2]
    return head, len(head) + MIB


def upload_past_the_limit(port: int, headers: dict[str, str], limit: int) -> tuple[int, Any]:
    """A file 1000 bytes over `limit`, declared within the middleware's bound; all of it
    is sent, but not the rest of the body (the part's end and the closing boundary)."""
    content = b"y" * (limit + 1000)
    whole = part("file", content, "big.bin") + closing()
    head = whole[: whole.index(content) + len(content)]
    return post_head_of_body(port, headers, head, len(whole))


@pytest.fixture(scope="module")
def local_api(database: None) -> Iterator[tuple[str, int, int]]:
    """A real API process on the local directory (the test session's STORAGE_DIR):
    its base URL, port and pid."""
    port = free_port()
    process = start_api(port, env={"MAX_UPLOAD_BYTES": str(256 * MIB)})
    try:
        url = f"http://127.0.0.1:{port}/api/v1"
        wait_until(lambda: answers(f"{url}/health"), timeout=60, interval=0.2)
        yield url, port, process.pid
    finally:
        stop(process)


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert match is not None
    return int(match.group(1)) / 1024


class PeakRss:
    """Samples a process's RSS in a thread until stopped; the highest seen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss_mib(pid)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self.stopped.wait(0.02):
            self.peak = max(self.peak, rss_mib(self.pid))

    def __enter__(self) -> "PeakRss":
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        self.thread.join()


def test_a_200_mib_upload_keeps_the_api_memory_flat(local_api: tuple[str, int, int]) -> None:
    url, _, pid = local_api
    headers = auth(make_user("big@example.com"))
    size = 200 * MIB
    # Once first, so that what the first upload loads (modules, pools) is not counted.
    warm_up = httpx.post(f"{url}/files", headers=headers, files={"file": ("a", b"a")})
    assert warm_up.status_code == 201, warm_up.text
    before = rss_mib(pid)
    generated = GeneratedFile(size)
    with PeakRss(pid) as rss:
        response = httpx.post(
            f"{url}/files", headers=headers, files={"file": ("big.bin", generated)}, timeout=300
        )
    assert response.status_code == 201, response.text
    file = response.json()
    assert (file["size"], file["sha256"]) == (size, generated.digest.hexdigest())
    assert (settings.storage_dir / "files" / file["id"]).stat().st_size == size
    # Generous: the body held whole, or spooled in memory, would be 200 MiB and more.
    assert rss.peak - before < 100, (before, rss.peak)


def test_past_the_limit_the_api_answers_413_before_the_body_ends_and_keeps_nothing(
    local_api: tuple[str, int, int],
) -> None:
    _, port, _ = local_api
    headers = auth(make_user("too-big@example.com"))
    status, answer = upload_past_the_limit(port, headers, 256 * MIB)
    assert status == 413
    assert "MAX_UPLOAD_BYTES" in answer["detail"]
    assert stored_files() == []
    assert files_recorded() == 0


def test_a_client_that_leaves_mid_upload_leaves_nothing(
    local_api: tuple[str, int, int],
) -> None:
    _, port, _ = local_api
    headers = auth(make_user("leaves@example.com"))
    head, declared = head_of_large_upload(16 * MIB)
    with upload_started(port, headers, head, declared):
        # Streaming: the file is being written while the body still comes.
        wait_until(stored_files, timeout=30)
    wait_until(lambda: stored_files() == [], timeout=30)
    assert files_recorded() == 0


# --- real uvicorn process on S3 ----------------------------------------------------------

S3_LIMIT = 24 * MIB


@pytest.fixture(scope="module")
def s3_api(database: None, s3_server: S3Server) -> Iterator[tuple[str, int, str]]:
    """A real API process storing on moto's S3: its base URL, port and key prefix."""
    port = free_port()
    prefix = f"streaming-{uuid.uuid4().hex}"
    env = {**s3_server.environment(prefix), "MAX_UPLOAD_BYTES": str(S3_LIMIT)}
    process = start_api(port, env=env)
    try:
        url = f"http://127.0.0.1:{port}/api/v1"
        wait_until(lambda: answers(f"{url}/health"), timeout=60, interval=0.2)
        yield url, port, prefix
    finally:
        stop(process)


def test_an_upload_to_s3_goes_up_in_parts_with_its_size_and_sha256(
    s3_api: tuple[str, int, str], s3_server: S3Server
) -> None:
    url, _, prefix = s3_api
    headers = auth(make_user("s3-stream@example.com"))
    generated = GeneratedFile(20 * MIB)
    response = httpx.post(
        f"{url}/files", headers=headers, files={"file": ("big.bin", generated)}, timeout=120
    )
    assert response.status_code == 201, response.text
    file = response.json()
    assert (file["size"], file["sha256"]) == (20 * MIB, generated.digest.hexdigest())
    key = f"{prefix}/files/{file['id']}"
    assert s3_server.keys(prefix) == [key]
    head = s3_server.client().head_object(Bucket=s3_server.bucket, Key=key)
    # A multipart object's ETag ends in the number of its parts (8 + 8 + 4 MiB).
    assert head["ETag"].strip('"').endswith("-3")
    assert s3_server.uploads_in_progress(prefix) == []


def test_past_the_limit_or_when_the_client_leaves_the_s3_upload_is_aborted(
    s3_api: tuple[str, int, str], s3_server: S3Server
) -> None:
    url, port, prefix = s3_api
    headers = auth(make_user("s3-too-big@example.com"))
    before = s3_server.keys(prefix)
    # Two parts are up when the limit passes.
    status, answer = upload_past_the_limit(port, headers, S3_LIMIT)
    assert status == 413
    assert "MAX_UPLOAD_BYTES" in answer["detail"]
    assert s3_server.keys(prefix) == before
    assert s3_server.uploads_in_progress(prefix) == []
    assert files_recorded() == 0
    head, declared = head_of_large_upload(2 * PART_BYTES)
    with upload_started(port, headers, head, declared):
        wait_until(lambda: s3_server.uploads_in_progress(prefix), timeout=30)
    wait_until(lambda: s3_server.uploads_in_progress(prefix) == [], timeout=30)
    assert s3_server.keys(prefix) == before
    missing = httpx.post(f"{url}/files", headers=headers, data={"other": "x"})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "file"]
