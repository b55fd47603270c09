"""Resumable uploads (tus 1.0.0 core, creation, termination) against a real uvicorn API
process, driven by tuspy, the tus project's Python client, and by httpx for the
protocol's refusals; then two API replicas sharing one S3 store."""

import base64
import hashlib
import io
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from tusclient.client import TusClient

from app.core.config import settings
from app.db.base_class import utcnow
from app.db.session import SessionLocal
from app.models.upload import Upload
from app.services.housekeeping import retention
from tests.support.fault_stack import ProxyProcess
from tests.support.ports import free_port
from tests.support.processes import answers, start_api, stop
from tests.support.s3 import S3Server
from tests.support.users import auth, make_api_key, make_user
from tests.support.waiting import wait_until

KIB = 1024
CONTENT = os.urandom(300 * KIB)
TUS = {"Tus-Resumable": "1.0.0"}
OFFSET_STREAM = "application/offset+octet-stream"
STORAGE_DIR = Path(os.environ["STORAGE_DIR"])
# How long the API waits for a PATCH still receiving (UPLOAD_RECEIVING_WAIT_SECONDS).
RECEIVING_WAIT_SECONDS = 3


def started_api(env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = start_api(port, env=env or {})
    url = f"http://127.0.0.1:{port}/api/v1"
    try:
        wait_until(lambda: answers(f"{url}/health"), timeout=60, interval=0.2)
    except AssertionError:
        stop(process)
        raise
    return process, url


@pytest.fixture(scope="module")
def api(database: None) -> Iterator[str]:
    """A real API process storing in the suite's STORAGE_DIR, as this process does."""
    process, url = started_api({"UPLOAD_RECEIVING_WAIT_SECONDS": str(RECEIVING_WAIT_SECONDS)})
    yield url
    stop(process)


@pytest.fixture
def headers() -> dict[str, str]:
    return auth(make_user("uploader@example.com"))


def tus_client(api: str, headers: dict[str, str]) -> TusClient:
    return TusClient(f"{api}/uploads", headers=headers)


def metadata(name: str, content_type: str) -> str:
    return ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}"
        for key, value in (("filename", name), ("filetype", content_type))
    )


def create(api: str, headers: dict[str, str], length: int, **extra: str) -> httpx.Response:
    return httpx.post(
        f"{api}/uploads", headers={**headers, **TUS, "Upload-Length": str(length), **extra}
    )


def new_upload(api: str, headers: dict[str, str], length: int = len(CONTENT)) -> str:
    created = create(api, headers, length)
    assert created.status_code == 201, created.text
    return str(httpx.URL(api).join(created.headers["location"]))


def patch(
    url: str, headers: dict[str, str], offset: int, body: Any, **extra: str
) -> httpx.Response:
    return httpx.patch(
        url,
        headers={
            **headers,
            **TUS,
            "Upload-Offset": str(offset),
            "Content-Type": OFFSET_STREAM,
            **extra,
        },
        content=body,
        timeout=30,
    )


def head(url: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.head(url, headers={**headers, **TUS}, timeout=30)


def offset_of(url: str, headers: dict[str, str]) -> int:
    answer = head(url, headers)
    assert answer.status_code == 200, answer.status_code
    return int(answer.headers["upload-offset"])


def test_options_tell_the_protocol_extensions_and_size_limit(api: str) -> None:
    answer = httpx.options(f"{api}/uploads")
    assert answer.status_code == 204
    assert answer.headers["tus-resumable"] == "1.0.0"
    assert answer.headers["tus-version"] == "1.0.0"
    assert answer.headers["tus-extension"] == "creation,termination"
    assert answer.headers["tus-max-size"] == str(settings.MAX_UPLOAD_BYTES)


def test_tuspy_uploads_in_chunks_stops_resumes_and_the_file_feeds_a_tool(
    api: str, headers: dict[str, str], worker: subprocess.Popen[bytes]
) -> None:
    chunk = 64 * KIB
    uploader = tus_client(api, headers).uploader(
        file_stream=io.BytesIO(CONTENT),
        chunk_size=chunk,
        metadata={"filename": "data.bin", "filetype": "application/x-data"},
    )
    # A client that stops after two chunks (its process ended, its network went away).
    uploader.upload(stop_at=2 * chunk)
    assert offset_of(uploader.url, headers) == 2 * chunk
    assert head(uploader.url, headers).headers.get("upload-file-id") is None

    # Another client resumes from the offset that HEAD gives.
    resumed = tus_client(api, headers).uploader(
        file_stream=io.BytesIO(CONTENT), chunk_size=chunk, url=uploader.url
    )
    assert resumed.offset == 2 * chunk
    resumed.upload()

    progress = head(uploader.url, headers)
    assert (
        progress.headers["upload-offset"] == progress.headers["upload-length"] == str(len(CONTENT))
    )
    assert progress.headers["cache-control"] == "no-store"
    assert progress.headers["tus-resumable"] == "1.0.0"
    file_id = progress.headers["upload-file-id"]
    # The last PATCH told it too, and so does the JSON description.
    assert resumed.request is not None
    assert resumed.request.response_headers["upload-file-id"] == file_id
    described = httpx.get(uploader.url, headers=headers).json()
    assert described["file_id"] == file_id
    assert (described["name"], described["content_type"]) == ("data.bin", "application/x-data")

    file = httpx.get(f"{api}/files/{file_id}", headers=headers).json()
    assert file["size"] == len(CONTENT)
    assert file["sha256"] == hashlib.sha256(CONTENT).hexdigest()
    assert (file["name"], file["content_type"]) == ("data.bin", "application/x-data")
    # The parts are gone once they are one file.
    upload_id = uploader.url.rsplit("/", 1)[1]
    assert not (STORAGE_DIR / "uploads" / upload_id).exists()

    submitted = httpx.post(
        f"{api}/tools/checksum/jobs", headers=headers, json={"inputs": {"file": file_id}}
    )
    assert submitted.status_code == 202, submitted.text

    def ended() -> dict[str, Any] | None:
        job: dict[str, Any] = httpx.get(
            f"{api}/jobs/{submitted.json()['id']}", headers=headers
        ).json()
        return job if job["state"] in {"succeeded", "failed", "cancelled"} else None

    job = wait_until(ended, timeout=60)
    assert job["state"] == "succeeded", job
    assert job["outputs"]["hexdigest"] == hashlib.sha256(CONTENT).hexdigest()
    assert job["outputs"]["size"] == len(CONTENT)


def open_patch(api: str, headers: dict[str, str], upload_id: str, sent: bytes) -> socket.socket:
    """A PATCH of the whole CONTENT whose client sent `sent` and holds its connection
    open, once the server is storing those bytes."""
    port = httpx.URL(api).port
    assert port is not None
    connection = socket.create_connection(("127.0.0.1", port))
    request_head = (
        f"PATCH /api/v1/uploads/{upload_id} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: {headers['Authorization']}\r\nTus-Resumable: 1.0.0\r\n"
        f"Upload-Offset: 0\r\nContent-Type: {OFFSET_STREAM}\r\n"
        f"Content-Length: {len(CONTENT)}\r\n\r\n"
    )
    connection.sendall(request_head.encode() + sent)
    parts = STORAGE_DIR / "uploads" / upload_id
    wait_until(lambda: any(p.stat().st_size for p in parts.glob(".*.partial")), timeout=30)
    return connection


def test_a_head_after_a_cut_answers_the_bytes_that_arrived(
    api: str, headers: dict[str, str]
) -> None:
    url = new_upload(api, headers)
    sent = 200 * KIB
    with ThreadPoolExecutor(1) as pool:
        with open_patch(api, headers, url.rsplit("/", 1)[1], CONTENT[:sent]):
            asked = pool.submit(offset_of, url, headers)
            # The PATCH still receives: a HEAD waits for it to end...
            time.sleep(0.5)
            assert not asked.done()
        # ... and once the connection is cut, answers with the bytes the server kept, so
        # that the client resumes after them (not before, which would be a 409).
        kept = asked.result(timeout=30)
    assert 0 < kept <= sent

    # A PATCH from the kept offset completes the file, whose bytes are the right ones.
    finished = patch(url, headers, kept, CONTENT[kept:])
    assert finished.status_code == 204, finished.text
    file = httpx.get(f"{api}/files/{finished.headers['upload-file-id']}", headers=headers).json()
    assert file["sha256"] == hashlib.sha256(CONTENT).hexdigest()


def test_a_patch_that_hangs_is_waited_for_only_so_long(api: str, headers: dict[str, str]) -> None:
    url = new_upload(api, headers)
    with open_patch(api, headers, url.rsplit("/", 1)[1], CONTENT[: 100 * KIB]):
        started = time.monotonic()
        assert offset_of(url, headers) == 0
        assert time.monotonic() - started >= RECEIVING_WAIT_SECONDS
        # Another client uploads the whole of it meanwhile...
        finished = patch(url, headers, 0, CONTENT)
        assert finished.status_code == 204, finished.text
    # ... and the PATCH that hung, cut at last, counts for nothing.
    assert wait_until(
        lambda: not list((STORAGE_DIR / "uploads").glob(f"{url.rsplit('/', 1)[1]}/*")), timeout=30
    )
    file = httpx.get(f"{api}/files/{finished.headers['upload-file-id']}", headers=headers).json()
    assert file["sha256"] == hashlib.sha256(CONTENT).hexdigest()
    assert offset_of(url, headers) == len(CONTENT)


def test_a_patch_larger_than_max_request_bytes_streams_through(
    api: str, headers: dict[str, str]
) -> None:
    # Chunked, without Content-Length: the body limits of JSON routes do not apply, and
    # only the upload's own length bounds it.
    size = 3 * settings.MAX_REQUEST_BYTES
    url = new_upload(api, headers, size)

    def body() -> Iterator[bytes]:
        for start in range(0, size, 64 * KIB):
            yield bytes([start % 251]) * min(64 * KIB, size - start)

    finished = patch(url, headers, 0, body())
    assert finished.status_code == 204, finished.text
    file = httpx.get(f"{api}/files/{finished.headers['upload-file-id']}", headers=headers).json()
    assert file["size"] == size
    assert file["sha256"] == hashlib.sha256(b"".join(body())).hexdigest()


def test_an_empty_upload_is_a_file_at_once(api: str, headers: dict[str, str]) -> None:
    created = create(api, headers, 0, **{"Upload-Metadata": metadata("empty.txt", "text/plain")})
    assert created.status_code == 201, created.text
    file = httpx.get(f"{api}/files/{created.headers['upload-file-id']}", headers=headers).json()
    assert (file["name"], file["size"]) == ("empty.txt", 0)
    assert file["sha256"] == hashlib.sha256(b"").hexdigest()


def test_an_api_key_creates_and_resumes_like_a_token(api: str, headers: dict[str, str]) -> None:
    key = {"X-API-Key": make_api_key(headers["Authorization"].removeprefix("Bearer "))}
    url = new_upload(api, key, 10)
    assert patch(url, key, 0, b"0123456789").status_code == 204
    assert "upload-file-id" in head(url, key).headers


@pytest.mark.parametrize(
    ("length", "problem"),
    [
        (None, "required"),
        ("ten", "must be a non-negative integer"),
        ("-1", "must be a non-negative integer"),
    ],
)
def test_a_missing_or_bad_upload_length_is_400(
    api: str, headers: dict[str, str], length: str | None, problem: str
) -> None:
    sent = {**headers, **TUS} | ({} if length is None else {"Upload-Length": length})
    refused = httpx.post(f"{api}/uploads", headers=sent)
    assert refused.status_code == 400
    assert refused.json()["detail"] == f"Upload-Length: {problem}"
    assert refused.headers["tus-resumable"] == "1.0.0"


def test_an_upload_longer_than_max_upload_bytes_is_413(api: str, headers: dict[str, str]) -> None:
    refused = create(api, headers, settings.MAX_UPLOAD_BYTES + 1)
    assert refused.status_code == 413
    assert "MAX_UPLOAD_BYTES" in refused.json()["detail"]


@pytest.mark.parametrize("value", ["filename", "filename not-base64!", "a YQ==,a YQ==", "a b c"])
def test_metadata_that_does_not_parse_is_400(api: str, headers: dict[str, str], value: str) -> None:
    refused = create(api, headers, 3, **{"Upload-Metadata": value})
    if value in ("filename", "a YQ==,a YQ=="):
        # A key without a value is allowed (the file is then named "upload"), and so is
        # a key given twice, whose last value counts.
        assert refused.status_code == 201
        return
    assert refused.status_code == 400
    assert refused.json()["detail"].startswith("Upload-Metadata: ")


@pytest.mark.parametrize(("version", "status_code"), [(None, 400), ("{}", 400), ("0.2.2", 412)])
def test_a_tus_request_without_version_1_0_0_is_refused(
    api: str, headers: dict[str, str], version: str | None, status_code: int
) -> None:
    url = new_upload(api, headers)
    versioned = {} if version is None else {"Tus-Resumable": version}
    for method, extra in [
        ("POST", {"Upload-Length": "3"}),
        ("PATCH", {"Upload-Offset": "0", "Content-Type": OFFSET_STREAM}),
        ("HEAD", {}),
        ("DELETE", {}),
    ]:
        target = f"{api}/uploads" if method == "POST" else url
        refused = httpx.request(method, target, headers={**headers, **versioned, **extra})
        assert refused.status_code == status_code, method
        assert refused.headers["tus-version"] == "1.0.0"
        assert refused.headers["tus-resumable"] == "1.0.0"
    assert offset_of(url, headers) == 0


def test_a_patch_at_another_offset_is_409_and_changes_nothing(
    api: str, headers: dict[str, str]
) -> None:
    url = new_upload(api, headers)
    assert patch(url, headers, 0, CONTENT[:100]).status_code == 204
    for offset in (0, 50, 101):
        refused = patch(url, headers, offset, CONTENT[offset : offset + 10])
        assert refused.status_code == 409
        assert "Upload-Offset" in refused.json()["detail"]
        assert refused.headers["tus-resumable"] == "1.0.0"
    assert offset_of(url, headers) == 100


def test_of_two_patches_racing_at_one_offset_one_counts_and_the_other_is_409(
    api: str, headers: dict[str, str]
) -> None:
    url = new_upload(api, headers)
    both_sending = threading.Barrier(2, timeout=30)

    def body(size: int) -> Iterator[bytes]:
        yield CONTENT[:100]
        # Each body is half sent when the other is: both PATCHes are in the server at once.
        both_sending.wait()
        yield CONTENT[100:size]

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda size: patch(url, headers, 0, body(size)), (1000, 2000)))
    assert sorted(answer.status_code for answer in answers) == [204, 409]
    kept = offset_of(url, headers)
    assert kept in {1000, 2000}
    # Only the counted PATCH's part is left, and the file is the right bytes.
    upload_id = url.rsplit("/", 1)[1]
    assert len(list((STORAGE_DIR / "uploads" / upload_id).iterdir())) == 1
    finished = patch(url, headers, kept, CONTENT[kept:])
    file = httpx.get(f"{api}/files/{finished.headers['upload-file-id']}", headers=headers).json()
    assert file["sha256"] == hashlib.sha256(CONTENT).hexdigest()


def test_a_patch_of_another_content_type_is_415(api: str, headers: dict[str, str]) -> None:
    url = new_upload(api, headers)
    refused = patch(url, headers, 0, b"abc", **{"Content-Type": "application/octet-stream"})
    assert refused.status_code == 415
    assert refused.json()["detail"].startswith("Content-Type: ")
    assert offset_of(url, headers) == 0


def test_a_patch_without_its_offset_is_400(api: str, headers: dict[str, str]) -> None:
    url = new_upload(api, headers)
    sent = {**headers, **TUS, "Content-Type": OFFSET_STREAM}
    refused = httpx.patch(url, headers=sent, content=b"abc")
    assert refused.status_code == 400
    assert refused.json()["detail"] == "Upload-Offset: required"


def test_bytes_past_the_upload_length_are_413_and_none_is_kept(
    api: str, headers: dict[str, str]
) -> None:
    url = new_upload(api, headers, 10)
    assert patch(url, headers, 0, b"01234").status_code == 204
    # Declared too long: refused before the body is read.
    refused = patch(url, headers, 5, b"567890")
    assert refused.status_code == 413
    assert "Upload-Length" in refused.json()["detail"]

    # Sent chunked, without a length: refused once the bytes pass the length.
    def chunked() -> Iterator[bytes]:
        yield b"567"
        yield b"890"

    refused = patch(url, headers, 5, chunked())
    assert refused.status_code == 413
    assert offset_of(url, headers) == 5
    # Still resumable with the right bytes.
    finished = patch(url, headers, 5, b"56789")
    assert finished.status_code == 204
    file = httpx.get(f"{api}/files/{finished.headers['upload-file-id']}", headers=headers).json()
    assert file["sha256"] == hashlib.sha256(b"0123456789").hexdigest()


def test_another_users_upload_reads_as_unknown(api: str, headers: dict[str, str]) -> None:
    url = new_upload(api, headers)
    assert patch(url, headers, 0, b"abc").status_code == 204
    other = auth(make_user("someone-else@example.com"))
    unknown = url.rsplit("/", 1)[0] + f"/{uuid.uuid4()}"
    for target in (url, unknown):
        assert head(target, other).status_code == 404
        assert httpx.get(target, headers=other).status_code == 404
        assert patch(target, other, 3, b"def").status_code == 404
        assert httpx.delete(target, headers={**other, **TUS}).status_code == 404
    assert offset_of(url, headers) == 3


def test_termination_removes_the_upload_and_its_parts(api: str, headers: dict[str, str]) -> None:
    url = new_upload(api, headers)
    assert patch(url, headers, 0, CONTENT[:1000]).status_code == 204
    upload_id = url.rsplit("/", 1)[1]
    assert any((STORAGE_DIR / "uploads" / upload_id).iterdir())

    deleted = httpx.delete(url, headers={**headers, **TUS})
    assert deleted.status_code == 204
    assert deleted.headers["tus-resumable"] == "1.0.0"
    assert head(url, headers).status_code == 404
    assert patch(url, headers, 1000, CONTENT[1000:2000]).status_code == 404
    assert not (STORAGE_DIR / "uploads" / upload_id).exists()


def test_retention_deletes_uploads_left_alone_and_their_parts(
    api: str, headers: dict[str, str]
) -> None:
    left = new_upload(api, headers)
    assert patch(left, headers, 0, CONTENT[:1000]).status_code == 204
    done = new_upload(api, headers, 3)
    finished = patch(done, headers, 0, b"abc")
    recent = new_upload(api, headers)
    long_ago = utcnow() - timedelta(days=settings.UPLOAD_RETENTION_DAYS, hours=1)
    with SessionLocal() as session:
        for url in (left, done):
            upload_id = uuid.UUID(url.rsplit("/", 1)[1])
            session.execute(
                update(Upload).where(Upload.id == upload_id).values(updated_at=long_ago)
            )
        session.commit()
        assert retention.purge_abandoned_uploads(session) == 2

    assert head(left, headers).status_code == 404
    assert not (STORAGE_DIR / "uploads" / left.rsplit("/", 1)[1]).exists()
    assert head(done, headers).status_code == 404
    # The file a complete upload became is the user's, and stays.
    file_id = finished.headers["upload-file-id"]
    assert httpx.get(f"{api}/files/{file_id}", headers=headers).status_code == 200
    assert head(recent, headers).status_code == 200


@dataclass
class S3Replicas:
    """Two API processes sharing one S3 store and nothing else; the second reaches the
    store through a proxy that a test can cut."""

    first: str
    second: str
    proxy: ProxyProcess
    prefix: str


@pytest.fixture(scope="module")
def s3_replicas(database: None, s3_server: S3Server) -> Iterator[S3Replicas]:
    prefix = f"tus-{uuid.uuid4().hex}"
    proxy_port = free_port()
    proxy = ProxyProcess(proxy_port, s3_server.port)
    processes = []
    try:
        first, first_url = started_api(s3_server.environment(prefix))
        processes.append(first)
        second, second_url = started_api(
            s3_server.environment(prefix, f"http://127.0.0.1:{proxy_port}")
        )
        processes.append(second)
        yield S3Replicas(first_url, second_url, proxy, prefix)
    finally:
        for process in processes:
            stop(process)
        proxy.close()


def test_on_s3_an_upload_started_on_one_replica_finishes_on_another(
    s3_replicas: S3Replicas, s3_server: S3Server, headers: dict[str, str]
) -> None:
    first, second, prefix = s3_replicas.first, s3_replicas.second, s3_replicas.prefix
    chunk = 100 * KIB
    uploader = tus_client(first, headers).uploader(
        file_stream=io.BytesIO(CONTENT), chunk_size=chunk, metadata={"filename": "big.bin"}
    )
    uploader.upload(stop_at=chunk)
    upload_id = uploader.url.rsplit("/", 1)[1]
    assert len(s3_server.keys(f"{prefix}/uploads/{upload_id}/")) == 1

    on_second = f"{second}/uploads/{upload_id}"
    resumed = tus_client(second, headers).uploader(
        file_stream=io.BytesIO(CONTENT), chunk_size=chunk, url=on_second
    )
    assert resumed.offset == chunk
    resumed.upload()

    file_id = head(on_second, headers).headers["upload-file-id"]
    assert s3_server.keys(f"{prefix}/uploads/") == []
    assert s3_server.keys(f"{prefix}/files/") == [f"{prefix}/files/{file_id}"]
    file = httpx.get(f"{first}/files/{file_id}", headers=headers).json()
    assert (file["name"], file["size"]) == ("big.bin", len(CONTENT))
    assert file["sha256"] == hashlib.sha256(CONTENT).hexdigest()
    # On S3 the download is a redirect to the store.
    downloaded = httpx.get(
        f"{second}/files/{file_id}/content", headers=headers, follow_redirects=True
    )
    assert downloaded.content == CONTENT


def test_on_s3_a_patch_while_the_store_is_down_is_503_and_the_upload_resumes(
    s3_replicas: S3Replicas, s3_server: S3Server, headers: dict[str, str]
) -> None:
    url = new_upload(s3_replicas.second, headers, 2000)
    assert patch(url, headers, 0, CONTENT[:1000]).status_code == 204
    s3_replicas.proxy.cut()
    try:
        refused = patch(url, headers, 1000, CONTENT[1000:2000])
    finally:
        s3_replicas.proxy.restore()
    assert refused.status_code == 503, refused.text
    assert "try again" in refused.json()["detail"]
    assert offset_of(url, headers) == 1000
    upload_id = url.rsplit("/", 1)[1]
    assert len(s3_server.keys(f"{s3_replicas.prefix}/uploads/{upload_id}/")) == 1

    finished = patch(url, headers, 1000, CONTENT[1000:2000])
    assert finished.status_code == 204, finished.text
    file_id = finished.headers["upload-file-id"]
    downloaded = httpx.get(
        f"{s3_replicas.first}/files/{file_id}/content", headers=headers, follow_redirects=True
    )
    assert downloaded.content == CONTENT[:2000]
