"""Upload -> job -> artifact download, end to end with a real worker; and the file API."""

import gzip
import hashlib
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.config import settings
from app.core.storage import LocalStorage
from app.crud import job as job_crud
from app.db.session import SessionLocal
from app.models.job import Job
from app.services.storage_keys import artifact_key, file_key
from tests.support.job_api import wait_for_end
from tests.support.jobs import ended_job, run_job_here

CONTENT = b"the quick brown fox\njumps over the lazy dog\n" * 2000


def upload(
    client: TestClient, headers: dict[str, str], content: bytes = CONTENT, name: str = "fox.txt"
) -> dict[str, Any]:
    response = client.post(
        "/api/v1/files", headers=headers, files={"file": (name, content, "text/plain")}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def submit(client: TestClient, headers: dict[str, str], tool: str, inputs: dict[str, Any]) -> Any:
    return client.post(f"/api/v1/tools/{tool}/jobs", headers=headers, json={"inputs": inputs})


def test_upload_records_size_and_sha256_and_gives_the_bytes_back(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    file = upload(client, user_headers)
    assert (file["name"], file["size"]) == ("fox.txt", len(CONTENT))
    assert file["sha256"] == hashlib.sha256(CONTENT).hexdigest()
    assert client.get(f"/api/v1/files/{file['id']}", headers=user_headers).json() == file
    content = client.get(f"/api/v1/files/{file['id']}/content", headers=user_headers)
    assert content.content == CONTENT
    # The stored type as it is (the store answers a presigned URL with it too).
    assert content.headers["content-type"] == "text/plain"
    assert content.headers["content-disposition"] == "attachment; filename*=UTF-8''fox.txt"


def test_downloads_declare_their_redirect_in_openapi(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for path in ["/api/v1/files/{file_id}/content", "/api/v1/jobs/{job_id}/artifacts/{name}"]:
        answers = paths[path]["get"]["responses"]
        assert {"200", "307", "404"} <= answers.keys()
        assert "Location" in answers["307"]["headers"]


def test_a_client_file_name_never_becomes_a_path(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    assert upload(client, user_headers, name="../../etc/passwd")["name"] == "passwd"
    assert upload(client, user_headers, name="..")["name"] == "upload"


def test_files_are_owner_scoped_and_deletable(
    client: TestClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    file = upload(client, user_headers)
    url = f"/api/v1/files/{file['id']}"
    assert client.get(url, headers=other_user_headers).status_code == 404
    assert client.get(f"{url}/content", headers=other_user_headers).status_code == 404
    assert client.delete(url, headers=other_user_headers).status_code == 404
    assert client.delete(url, headers=user_headers).status_code == 204
    assert client.get(url, headers=user_headers).status_code == 404
    assert client.delete(url, headers=user_headers).status_code == 404
    assert client.get(f"/api/v1/files/{uuid.uuid4()}", headers=user_headers).status_code == 404


def test_upload_past_the_limit_is_413_and_keeps_nothing(
    client: TestClient, user_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "MAX_UPLOAD_BYTES", 1000)
    response = client.post(
        "/api/v1/files", headers=user_headers, files={"file": ("big.bin", b"x" * 1001)}
    )
    assert response.status_code == 413
    assert "MAX_UPLOAD_BYTES" in response.json()["detail"]
    assert list((settings.storage_dir / "files").glob("*")) == []


def test_declared_size_past_the_limit_is_refused_before_reading(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    declared = str(settings.MAX_UPLOAD_BYTES * 2)
    response = client.post(
        "/api/v1/files",
        headers={**user_headers, "Content-Length": declared, "Content-Type": "multipart/form-data"},
        content=b"x",
    )
    assert response.status_code == 413


def test_upload_without_a_file_is_422(client: TestClient, user_headers: dict[str, str]) -> None:
    response = client.post("/api/v1/files", headers=user_headers, data={"other": "x"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "file"]


def test_a_file_input_must_exist_and_be_the_submitters(
    client: TestClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    theirs = upload(client, other_user_headers)["id"]
    # Unknown or someone else's, like any id: 404, and the detail names the field.
    for file_id in (theirs, str(uuid.uuid4())):
        response = submit(client, user_headers, "checksum", {"file": file_id})
        assert response.status_code == 404
        assert response.json()["detail"].startswith("inputs.file: no file with this id")
    batch = client.post(
        "/api/v1/jobs/batch",
        headers=user_headers,
        json={
            "jobs": [
                {"tool": "echo", "inputs": {"message": "hi"}},
                {"tool": "checksum", "inputs": {"file": theirs}},
            ]
        },
    )
    assert batch.status_code == 404
    assert batch.json()["detail"].startswith("jobs.1.inputs.file: ")
    not_an_id = submit(client, user_headers, "checksum", {"file": "notes.txt"})
    assert not_an_id.status_code == 422


@pytest.mark.usefixtures("worker")
def test_checksum_of_an_upload(client: TestClient, user_headers: dict[str, str]) -> None:
    file = upload(client, user_headers)
    job_id = submit(client, user_headers, "checksum", {"file": file["id"], "algorithm": "md5"})
    job = wait_for_end(client, user_headers, job_id.json()["id"])
    assert job["state"] == "succeeded", job
    assert job["outputs"] == {
        "algorithm": "md5",
        "hexdigest": hashlib.md5(CONTENT).hexdigest(),
        "size": len(CONTENT),
    }


@pytest.mark.usefixtures("worker")
def test_compress_an_upload_and_download_the_artifact(
    client: TestClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    file = upload(client, user_headers)
    submitted = submit(client, user_headers, "compress", {"file": file["id"], "level": 9})
    job = wait_for_end(client, user_headers, submitted.json()["id"])
    assert job["state"] == "succeeded", job
    assert job["outputs"]["artifact"] == "fox.txt.gz"
    artifacts_url = f"/api/v1/jobs/{job['id']}/artifacts"
    listed = client.get(artifacts_url, headers=user_headers).json()
    assert [artifact["name"] for artifact in listed] == ["fox.txt.gz"]
    assert listed[0]["content_type"] == "application/gzip"
    downloaded = client.get(f"{artifacts_url}/fox.txt.gz", headers=user_headers)
    assert downloaded.status_code == 200
    assert hashlib.sha256(downloaded.content).hexdigest() == listed[0]["sha256"]
    assert len(downloaded.content) == listed[0]["size"] == job["outputs"]["size_out"]
    assert gzip.decompress(downloaded.content) == CONTENT
    assert "fox.txt.gz" in downloaded.headers["content-disposition"]
    # Another user sees neither the list nor the file.
    assert client.get(artifacts_url, headers=other_user_headers).status_code == 404
    other = client.get(f"{artifacts_url}/fox.txt.gz", headers=other_user_headers)
    assert other.status_code == 404


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize(
    "name",
    [
        "..%2F..%2Fetc%2Fpasswd",
        "%2e%2e",
        ".hidden",
        "a%5Cb",
        "%00",
        "%2Fetc%2Fpasswd",
        "fox.txt.gz%2F..",
        "missing.gz",
    ],
)
def test_artifact_names_that_leave_the_job_folder_are_404(
    client: TestClient, user_headers: dict[str, str], name: str
) -> None:
    file = upload(client, user_headers, content=b"x")
    job = wait_for_end(
        client,
        user_headers,
        submit(client, user_headers, "compress", {"file": file["id"]}).json()["id"],
    )
    response = client.get(f"/api/v1/jobs/{job['id']}/artifacts/{name}", headers=user_headers)
    assert response.status_code in {400, 404}
    assert b"root:" not in response.content


@pytest.mark.usefixtures("worker")
def test_text_stats_of_text_and_of_an_upload(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    by_text = submit(client, user_headers, "text-stats", {"text": "a b\nc"}).json()["id"]
    file = upload(client, user_headers)
    by_file = submit(client, user_headers, "text-stats", {"file": file["id"]}).json()["id"]
    assert wait_for_end(client, user_headers, by_text)["outputs"] == {
        "lines": 2,
        "words": 3,
        "chars": 5,
    }
    assert wait_for_end(client, user_headers, by_file)["outputs"] == {
        "lines": 4000,
        "words": 18000,
        "chars": len(CONTENT),
    }
    both = submit(client, user_headers, "text-stats", {"text": "x", "file": file["id"]})
    assert both.status_code == 422


def test_a_file_deleted_before_the_job_ran_fails_the_job(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    file = upload(client, user_headers)
    owner_id = client.get("/api/v1/users/me", headers=user_headers).json()["id"]
    # Recorded but never sent, so no worker runs it before the file is gone.
    with SessionLocal() as session:
        job = job_crud.create_job(
            session,
            Job(
                owner_id=uuid.UUID(owner_id),
                tool="checksum",
                tool_version="1.0.0",
                inputs={"file": file["id"], "algorithm": "sha256"},
            ),
        )
        session.commit()
    assert client.delete(f"/api/v1/files/{file['id']}", headers=user_headers).status_code == 204
    run_job_here(job.id)
    ended = client.get(f"/api/v1/jobs/{job.id}", headers=user_headers).json()
    assert ended["state"] == "failed"
    assert ended["error"]["type"] == "tool_error"
    assert "deleted" in ended["error"]["message"]


def owner_id(client: TestClient, headers: dict[str, str]) -> uuid.UUID:
    return uuid.UUID(client.get("/api/v1/users/me", headers=headers).json()["id"])


@pytest.mark.parametrize(
    "name",
    [
        "...",
        "%2e%2e",
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "%252e%252e%252fetc%252fpasswd",
        "..%5C..%5Cetc%5Cpasswd",
        "%5Cetc%5Cpasswd",
        "%2F%2Fetc%2Fpasswd",
        "C:%5Cwindows%5Cwin.ini",
        "out.txt%00.png",
        "out.txt%2F",
        "%C0%AE%C0%AE%2Fetc%2Fpasswd",
        "out.txt%0A",
    ],
)
def test_artifact_names_that_are_not_plain_file_names_are_404_without_a_worker(
    client: TestClient, user_headers: dict[str, str], name: str
) -> None:
    job_id = ended_job(owner_id(client, user_headers), {"out.txt": b"mine\n"})
    url = f"/api/v1/jobs/{job_id}/artifacts"
    assert client.get(f"{url}/out.txt", headers=user_headers).content == b"mine\n"
    response = client.get(f"{url}/{name}", headers=user_headers)
    # An encoded `/` arrives as one, so the path is no route's (a JSON 404 all the same).
    assert response.status_code == 404
    assert response.json()["detail"] in {"artifact not found", "Not Found"}


def test_a_link_in_storage_that_leads_out_is_not_followed(
    client: TestClient, user_headers: dict[str, str], tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"root:x:0:0\n")
    job_id = ended_job(owner_id(client, user_headers), {"out.txt": b"mine\n"})
    stored = settings.storage_dir / artifact_key(job_id, "out.txt")
    # However it got there, a link where the artifact's bytes were.
    stored.unlink()
    stored.symlink_to(secret)
    response = client.get(f"/api/v1/jobs/{job_id}/artifacts/out.txt", headers=user_headers)
    assert response.status_code == 404
    assert b"root:" not in response.content
    file = upload(client, user_headers)
    stored_file = settings.storage_dir / file_key(uuid.UUID(file["id"]))
    stored_file.unlink()
    stored_file.symlink_to(secret)
    content = client.get(f"/api/v1/files/{file['id']}/content", headers=user_headers)
    assert content.status_code == 404


@pytest.mark.parametrize(
    "key",
    ["../outside", "/etc/passwd", "files/../../outside", "files/../..", ".", "jobs/.."],
)
def test_storage_refuses_keys_that_leave_its_root(key: str, tmp_path: Path) -> None:
    local = LocalStorage(tmp_path / "root")
    with pytest.raises(ValueError, match="leaves the storage root"):
        local.write(key, [b"x"])
    with pytest.raises(ValueError, match="leaves the storage root"):
        local.open(key)
    assert not (tmp_path / "outside").exists()
