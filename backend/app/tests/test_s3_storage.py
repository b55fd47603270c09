"""The S3-compatible storage backend against a real S3 endpoint over HTTP (moto's
server mode): the storage interface, then an API and a worker storing on it."""

import gzip
import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from app.core.celery_app import celery_app
from app.core.config import Settings, settings
from app.core.s3_storage import PART_BYTES, S3Storage
from app.core.storage import LocalStorage, storage_at
from app.core.stored_objects import ObjectTooLarge, StorageUnavailable
from app.db.session import SessionLocal
from app.models.file import File
from app.worker.task_routes import TaskName
from tests.support.fault_stack import ProxyProcess
from tests.support.jobs import ended_long_ago
from tests.support.ports import free_port, free_ports
from tests.support.processes import answers, start_api, start_worker, stop
from tests.support.s3 import CREDENTIALS, S3Server
from tests.support.users import auth, make_user
from tests.support.waiting import wait_until

CONTENT = b"the quick brown fox\njumps over the lazy dog\n" * 2000
MIB = 1024 * 1024


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
def s3(s3_server: S3Server, prefix: str) -> S3Storage:
    return S3Storage(s3_server.client(), s3_server.bucket, prefix)


def mib_chunks(count: int) -> Iterator[bytes]:
    for index in range(count):
        yield bytes([index % 251]) * MIB


def test_write_open_and_local_path_round_trip(
    s3: S3Storage, s3_server: S3Server, prefix: str
) -> None:
    stored = s3.write("files/one", [CONTENT[:1000], CONTENT[1000:]])
    assert (stored.size, stored.sha256) == (len(CONTENT), hashlib.sha256(CONTENT).hexdigest())
    assert s3_server.keys(prefix) == [f"{prefix}/files/one"]
    with s3.open("files/one") as stream:
        assert stream.read() == CONTENT
    with s3.local_path("files/one") as path:
        assert path.read_bytes() == CONTENT
    assert not path.exists()
    assert not path.parent.exists()


def test_large_content_goes_up_in_parts(s3: S3Storage, s3_server: S3Server, prefix: str) -> None:
    count = 2 * PART_BYTES // MIB + 3
    expected = hashlib.sha256(b"".join(mib_chunks(count))).hexdigest()
    stored = s3.write("jobs/j/artifacts/big", mib_chunks(count))
    assert (stored.size, stored.sha256) == (count * MIB, expected)
    head = s3_server.client().head_object(
        Bucket=s3_server.bucket, Key=f"{prefix}/jobs/j/artifacts/big"
    )
    # A multipart object's ETag ends in the number of its parts.
    assert head["ETag"].strip('"').endswith("-3")
    digest = hashlib.sha256()
    with s3.open("jobs/j/artifacts/big") as stream:
        while chunk := stream.read(MIB):
            digest.update(chunk)
    assert digest.hexdigest() == expected
    assert s3_server.uploads_in_progress(prefix) == []


@pytest.mark.parametrize("parts_before_the_cap", [0, 2])
def test_passing_the_cap_aborts_and_leaves_nothing(
    s3: S3Storage, s3_server: S3Server, prefix: str, parts_before_the_cap: int
) -> None:
    cap = parts_before_the_cap * PART_BYTES + MIB
    with pytest.raises(ObjectTooLarge):
        s3.write("files/too-big", mib_chunks(cap // MIB + 4), max_bytes=cap)
    assert s3_server.keys(prefix) == []
    assert s3_server.uploads_in_progress(prefix) == []


def test_delete_of_a_key_or_of_everything_under_a_prefix(
    s3: S3Storage, s3_server: S3Server, prefix: str
) -> None:
    for key in ["jobs/a/log", "jobs/a/artifacts/x", "jobs/a/artifacts/y", "jobs/ab/log", "files/f"]:
        s3.write(key, [key.encode()])
    s3.delete("files/f")
    s3.delete("jobs/a")
    s3.delete("files/never-there")
    assert s3_server.keys(prefix) == [f"{prefix}/jobs/ab/log"]
    with pytest.raises(FileNotFoundError):
        s3.open("files/f")


def test_a_presigned_url_serves_the_object_with_the_download_headers(
    s3_server: S3Server, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The backend as a process builds it from its settings (the client's configuration
    # chooses how URLs are signed).
    for variable, value in CREDENTIALS.items():
        monkeypatch.setenv(variable, value)
    s3 = storage_at(f"s3://{s3_server.bucket}/{prefix}", s3_server.endpoint_url)
    s3.write("files/one", [CONTENT])
    disposition = "attachment; filename*=UTF-8''a%20fox.txt"
    url = s3.presigned_url(
        "files/one", seconds=60, content_type="text/plain", content_disposition=disposition
    )
    assert url is not None
    # Only the lifetime the URL carries is checked: moto (5.2) serves a presigned URL
    # past its X-Amz-Expires, so a test that waits for a refusal could never pass.
    assert url.startswith(f"{s3_server.endpoint_url}/{s3_server.bucket}/{prefix}/files/one?")
    assert httpx.URL(url).params["X-Amz-Expires"] == "60"
    # No credentials of ours go with it: the signature in the URL is the permission.
    answer = httpx.get(url)
    assert answer.status_code == 200, answer.text
    assert answer.content == CONTENT
    assert answer.headers["content-type"] == "text/plain"
    assert answer.headers["content-disposition"] == disposition
    with pytest.raises(ValueError, match="leaves the storage root"):
        s3.presigned_url("../x", seconds=60, content_type="a/b", content_disposition="inline")


def test_local_storage_has_no_presigned_url(tmp_path: Path) -> None:
    local = LocalStorage(tmp_path)
    local.write("files/one", [CONTENT])
    assert (
        local.presigned_url("files/one", seconds=60, content_type="a/b", content_disposition="x")
        is None
    )


@pytest.mark.parametrize(
    "key",
    ["../outside", "/etc/passwd", "files/../../outside", "files/../..", ".", "jobs/..", ""],
)
def test_keys_that_leave_the_root_are_refused(s3: S3Storage, key: str) -> None:
    with pytest.raises(ValueError, match="leaves the storage root"):
        s3.write(key, [b"x"])
    with pytest.raises(ValueError, match="leaves the storage root"):
        s3.open(key)
    with pytest.raises(ValueError, match="leaves the storage root"):
        s3.delete(key)


def test_an_unreachable_store_is_storage_unavailable(s3_server: S3Server) -> None:
    nowhere = S3Storage(s3_server.client(f"http://127.0.0.1:{free_port()}"), "bucket")
    with pytest.raises(StorageUnavailable):
        nowhere.write("files/f", [b"x"])
    with pytest.raises(StorageUnavailable):
        nowhere.open("files/f")


@dataclass
class S3Stack:
    api: str
    # An API on the same storage that streams downloads (STORAGE_DOWNLOADS=proxy).
    proxying_api: str
    proxy: ProxyProcess
    prefix: str


@pytest.fixture(scope="module")
def stack(database: None, s3_server: S3Server) -> Iterator[S3Stack]:
    """An API and a worker storing on S3 through a proxy that a test can cut, and an API
    that streams downloads instead of redirecting them."""
    api_port, proxying_api_port, proxy_port = free_ports(3)
    proxy = ProxyProcess(proxy_port, s3_server.port)
    prefix = f"stack-{uuid.uuid4().hex}"
    env = {
        **s3_server.environment(prefix, f"http://127.0.0.1:{proxy_port}"),
        # Clients reach the store directly, not through the proxy the tests cut.
        "STORAGE_S3_PUBLIC_ENDPOINT_URL": s3_server.endpoint_url,
    }
    api = start_api(api_port, env=env)
    proxying_api = start_api(proxying_api_port, env={**env, "STORAGE_DOWNLOADS": "proxy"})
    worker = None
    try:
        worker = start_worker(env=env)
        url = f"http://127.0.0.1:{api_port}/api/v1"
        proxying_url = f"http://127.0.0.1:{proxying_api_port}/api/v1"
        wait_until(lambda: answers(f"{url}/health"), timeout=60, interval=0.2)
        wait_until(lambda: answers(f"{proxying_url}/health"), timeout=60, interval=0.2)
        yield S3Stack(url, proxying_url, proxy, prefix)
    finally:
        if worker is not None:
            stop(worker)
        stop(proxying_api)
        stop(api)
        proxy.close()


def upload(stack: S3Stack, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{stack.api}/files",
        headers=headers,
        files={"file": ("fox.txt", CONTENT, "text/plain")},
        timeout=30,
    )


def wait_for_end(stack: S3Stack, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        job: dict[str, Any] = httpx.get(f"{stack.api}/jobs/{job_id}", headers=headers).json()
        return job if job["state"] in {"succeeded", "failed", "cancelled"} else None

    return wait_until(ended, timeout=60)


def compressed(stack: S3Stack, headers: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """An upload of CONTENT as fox.txt, and the succeeded compress job of it."""
    uploaded = upload(stack, headers)
    assert uploaded.status_code == 201, uploaded.text
    file: dict[str, Any] = uploaded.json()
    submitted = httpx.post(
        f"{stack.api}/tools/compress/jobs",
        headers=headers,
        json={"inputs": {"file": file["id"], "level": 9}},
    )
    assert submitted.status_code == 202, submitted.text
    job = wait_for_end(stack, headers, submitted.json()["id"])
    assert job["state"] == "succeeded", job
    return file, job


def downloaded(api: str, path: str, headers: dict[str, str]) -> httpx.Response:
    """A download as a client makes it, following a redirect (httpx leaves the
    Authorization header behind when the redirect leads to another host)."""
    answer = httpx.get(f"{api}{path}", headers=headers, follow_redirects=True, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer


def test_upload_compress_and_download_through_s3(stack: S3Stack, s3_server: S3Server) -> None:
    headers = auth(make_user("s3@example.com"))
    file, job = compressed(stack, headers)
    assert file["sha256"] == hashlib.sha256(CONTENT).hexdigest()
    assert f"{stack.prefix}/files/{file['id']}" in s3_server.keys(stack.prefix)
    assert f"{stack.prefix}/jobs/{job['id']}/artifacts/fox.txt.gz" in s3_server.keys(stack.prefix)

    artifact = downloaded(stack.api, f"/jobs/{job['id']}/artifacts/fox.txt.gz", headers)
    assert gzip.decompress(artifact.content) == CONTENT

    # Deletes go through the storage too: the file's object, and everything of the job.
    deleted = httpx.delete(f"{stack.api}/files/{file['id']}", headers=headers)
    assert deleted.status_code == 204, deleted.text
    assert f"{stack.prefix}/files/{file['id']}" not in s3_server.keys(stack.prefix)
    deleted = httpx.delete(f"{stack.api}/jobs/{job['id']}", headers=headers)
    assert deleted.status_code == 204, deleted.text
    assert s3_server.keys(f"{stack.prefix}/jobs/{job['id']}/") == []


def test_downloads_redirect_to_a_presigned_url_that_serves_what_the_api_would(
    stack: S3Stack, s3_server: S3Server
) -> None:
    headers = auth(make_user("s3-redirect@example.com"))
    file, job = compressed(stack, headers)
    [artifact] = httpx.get(f"{stack.api}/jobs/{job['id']}/artifacts", headers=headers).json()
    downloads = {
        f"/files/{file['id']}/content": file,
        f"/jobs/{job['id']}/artifacts/fox.txt.gz": artifact,
    }
    for path, record in downloads.items():
        redirected = downloaded(stack.api, path, headers)
        [redirect] = redirected.history
        assert redirect.status_code == 307
        # Straight to the object, at the store's public endpoint (not the one the API
        # uses), for STORAGE_PRESIGNED_URL_SECONDS (300).
        location = httpx.URL(redirect.headers["location"])
        assert str(location).startswith(
            f"{s3_server.endpoint_url}/{s3_server.bucket}/{stack.prefix}/"
        )
        assert location.params["X-Amz-Expires"] == "300"
        assert len(redirected.content) == record["size"]
        assert hashlib.sha256(redirected.content).hexdigest() == record["sha256"]
        assert redirected.headers["content-type"] == record["content_type"]
        assert record["name"] in redirected.headers["content-disposition"]

        # With STORAGE_DOWNLOADS=proxy, the same bytes under the same headers from the API.
        proxied = downloaded(stack.proxying_api, path, headers)
        assert proxied.history == []
        assert proxied.content == redirected.content
        for header in ("content-type", "content-disposition"):
            assert proxied.headers[header] == redirected.headers[header]
    assert redirected.headers["content-disposition"] == "attachment; filename*=UTF-8''fox.txt.gz"
    assert gzip.decompress(redirected.content) == CONTENT


def test_ogc_raw_results_of_an_artifact_redirect_as_its_download_does(stack: S3Stack) -> None:
    headers = auth(make_user("s3-ogc@example.com"))
    uploaded = upload(stack, headers)
    assert uploaded.status_code == 201, uploaded.text
    ogc = stack.api.removesuffix("/api/v1") + "/ogc"
    executed = httpx.post(
        f"{ogc}/processes/compress/execution",
        headers={**headers, "Prefer": "respond-async"},
        json={"inputs": {"file": uploaded.json()["id"]}, "outputs": {"fox.txt.gz": {}}},
    )
    assert executed.status_code == 201, executed.text
    job = wait_for_end(stack, headers, executed.json()["jobID"])
    assert job["state"] == "succeeded", job
    raw = downloaded(ogc, f"/jobs/{job['id']}/results", headers)
    assert [answer.status_code for answer in raw.history] == [307]
    assert gzip.decompress(raw.content) == CONTENT


def test_another_users_download_is_404_and_never_a_redirect(stack: S3Stack) -> None:
    owner = auth(make_user("s3-owner@example.com"))
    other = auth(make_user("s3-other@example.com"))
    file, job = compressed(stack, owner)
    refusals = [
        (other, f"/files/{file['id']}/content"),
        (other, f"/jobs/{job['id']}/artifacts/fox.txt.gz"),
        (owner, f"/files/{uuid.uuid4()}/content"),
        (owner, f"/jobs/{job['id']}/artifacts/no-such-artifact"),
    ]
    for headers, path in refusals:
        for api in (stack.api, stack.proxying_api):
            refused = httpx.get(f"{api}{path}", headers=headers)
            assert refused.status_code == 404, (path, refused.text)
            assert "location" not in refused.headers


def test_retention_leaves_nothing_of_a_job_in_the_bucket_and_then_410_without_redirect(
    stack: S3Stack, s3_server: S3Server
) -> None:
    headers = auth(make_user("s3-retention@example.com"))
    _, job = compressed(stack, headers)
    kept = f"{stack.prefix}/jobs/{job['id']}/"
    assert f"{kept}artifacts/fox.txt.gz" in s3_server.keys(kept)
    ended_long_ago(uuid.UUID(job["id"]))

    # As beat sends it: the purge runs on the stack's worker, which stores on S3.
    celery_app.send_task(TaskName.PURGE_EXPIRED_JOBS)
    wait_until(lambda: s3_server.keys(kept) == [], timeout=30, interval=0.2)
    gone = httpx.get(f"{stack.api}/jobs/{job['id']}/artifacts/fox.txt.gz", headers=headers)
    assert gone.status_code == 410, gone.text
    assert "location" not in gone.headers


def test_an_upload_while_the_store_is_down_is_503_and_keeps_nothing(
    stack: S3Stack, s3_server: S3Server
) -> None:
    headers = auth(make_user("s3-down@example.com"))
    before = s3_server.keys(f"{stack.prefix}/files/")
    stack.proxy.cut()
    try:
        refused = upload(stack, headers)
    finally:
        stack.proxy.restore()
    assert refused.status_code == 503, refused.text
    assert "try again" in refused.json()["detail"]
    assert s3_server.keys(f"{stack.prefix}/files/") == before
    assert s3_server.uploads_in_progress(stack.prefix) == []
    # Nothing recorded either, and the store back up serves again.
    with SessionLocal() as session:
        assert session.scalar(select(func.count()).select_from(File)) == 0
    assert upload(stack, headers).status_code == 201


@pytest.mark.parametrize(
    "url", ["s3:///no-bucket", "file://host/path", "file:relative", "minio://b/p", "/var/x"]
)
def test_a_storage_url_that_is_neither_a_local_path_nor_a_bucket_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="STORAGE_URL"):
        Settings(_env_file=None, STORAGE_URL=url)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STORAGE_DOWNLOADS", "presigned"),
        ("STORAGE_PRESIGNED_URL_SECONDS", "0"),
        # S3 refuses a presigned URL that lives longer than 7 days.
        ("STORAGE_PRESIGNED_URL_SECONDS", str(7 * 24 * 3600 + 1)),
    ],
)
def test_download_settings_out_of_range_are_refused(name: str, value: str) -> None:
    with pytest.raises(ValidationError, match=name):
        Settings(_env_file=None, **{name: value})  # type: ignore[call-arg]


def test_the_storage_url_chooses_the_backend(tmp_path: Path) -> None:
    default = storage_at(None)
    assert isinstance(default, LocalStorage)
    assert default.root == settings.storage_dir.resolve()
    local = storage_at(tmp_path.as_uri())
    assert isinstance(local, LocalStorage)
    assert local.root == tmp_path.resolve()
    s3 = storage_at("s3://a-bucket/some/prefix/", "http://127.0.0.1:9")
    assert isinstance(s3, S3Storage)
    assert (s3.bucket, s3.prefix) == ("a-bucket", "some/prefix")
    assert s3.client.meta.endpoint_url == "http://127.0.0.1:9"
    assert s3.signer is s3.client
    public = storage_at("s3://a-bucket", "http://minio:9000", "https://s3.example.com")
    assert isinstance(public, S3Storage)
    assert public.client.meta.endpoint_url == "http://minio:9000"
    assert public.signer.meta.endpoint_url == "https://s3.example.com"


def test_a_job_whose_input_cannot_be_staged_fails_as_a_system_error(
    stack: S3Stack, s3_server: S3Server
) -> None:
    headers = auth(make_user("s3-job@example.com"))
    uploaded = upload(stack, headers)
    assert uploaded.status_code == 201, uploaded.text
    stack.proxy.cut()
    try:
        submitted = httpx.post(
            f"{stack.api}/tools/checksum/jobs",
            headers=headers,
            json={"inputs": {"file": uploaded.json()["id"]}},
        )
        assert submitted.status_code == 202, submitted.text
        job = wait_for_end(stack, headers, submitted.json()["id"])
    finally:
        stack.proxy.restore()
    assert job["state"] == "failed", job
    assert job["error"]["type"] == "system_error", job
    assert "storage" in job["error"]["message"]
