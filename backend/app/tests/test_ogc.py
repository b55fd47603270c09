"""OGC API - Processes - Part 1 at /ogc: every endpoint and exception, with a real worker,
over the same jobs as the REST API."""

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db.session import SessionLocal
from app.models.file import File
from app.services.ogc.jobs import SCAN_ROWS_PER_PAGE
from tests.support.job_api import wait_for_end
from tests.support.listeners import listening
from tests.support.waiting import wait_until
from tests.support.webhook_receiver import receiving

OGC_EXCEPTIONS = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0"
OGC_REL = "http://www.opengis.net/def/rel/ogc/1.0"
ASYNC = {"Prefer": "respond-async"}
CONTENT = b"tooljobs speaks OGC\n" * 500


def execute(
    client: TestClient,
    headers: dict[str, str],
    process: str,
    inputs: dict[str, Any],
    **body: Any,
) -> Any:
    return client.post(
        f"/ogc/processes/{process}/execution",
        headers={**headers, **ASYNC},
        json={"inputs": inputs, **body},
    )


def status_of(client: TestClient, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    response = client.get(f"/ogc/jobs/{job_id}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_for_status(
    client: TestClient, headers: dict[str, str], job_id: str, *statuses: str
) -> dict[str, Any]:
    return wait_until(
        lambda: (info := status_of(client, headers, job_id))["status"] in statuses and info,
        timeout=30,
    )


def upload(client: TestClient, headers: dict[str, str], content: bytes = CONTENT) -> str:
    response = client.post(
        "/api/v1/files", headers=headers, files={"file": ("data.txt", content, "text/plain")}
    )
    assert response.status_code == 201, response.text
    file_id: str = response.json()["id"]
    return file_id


def assert_exception(response: Any, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["type"] == kind
    assert body["status"] == status
    assert body["title"]
    return body


def test_landing_page_links_what_the_standard_requires(client: TestClient) -> None:
    body = client.get("/ogc/").json()
    relations = {link["rel"]: link["href"] for link in body["links"]}
    assert relations["service-desc"].endswith("/ogc/api")
    assert relations["service-doc"].endswith("/ogc/api.html")
    assert relations[f"{OGC_REL}/conformance"].endswith("/ogc/conformance")
    assert relations[f"{OGC_REL}/processes"].endswith("/ogc/processes")
    assert relations[f"{OGC_REL}/job-list"].endswith("/ogc/jobs")
    for href in relations.values():
        path = href.removeprefix("http://testserver")
        assert client.get(path).status_code in (200, 401), path


def test_conformance_declares_the_classes_implemented(client: TestClient) -> None:
    classes = client.get("/ogc/conformance").json()["conformsTo"]
    base = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf"
    assert sorted(classes) == sorted(
        f"{base}/{name}"
        for name in (
            "core",
            "ogc-process-description",
            "json",
            "oas30",
            "job-list",
            "dismiss",
            "callback",
        )
    )


def test_the_api_definition_is_openapi_3_0_in_json_and_html(client: TestClient) -> None:
    document = client.get("/ogc/api").json()
    assert document["openapi"].startswith("3.0.")
    assert {"/processes", "/processes/{process_id}/execution", "/jobs/{job_id}/results"} <= set(
        document["paths"]
    )

    def no_3_1_spelling(value: object) -> None:
        if isinstance(value, dict):
            assert value.get("type") != "null"
            assert "const" not in value or not isinstance(value["const"], str | int)
            for item in value.values():
                no_3_1_spelling(item)
        elif isinstance(value, list):
            for item in value:
                no_3_1_spelling(item)

    no_3_1_spelling(document["components"]["schemas"])
    page = client.get("/ogc/api.html")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")


def test_processes_list_and_describe_every_tool(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    listed = client.get("/ogc/processes", headers=user_headers).json()
    ids = [process["id"] for process in listed["processes"]]
    tools = [tool["name"] for tool in client.get("/api/v1/tools", headers=user_headers).json()]
    assert sorted(ids) == sorted(tools)
    assert len(client.get("/ogc/processes?limit=2", headers=user_headers).json()["processes"]) == 2
    summary = next(p for p in listed["processes"] if p["id"] == "checksum")
    assert {"async-execute", "sync-execute"} == set(summary["jobControlOptions"])

    described = client.get("/ogc/processes/checksum", headers=user_headers).json()
    assert described["inputs"]["file"]["schema"]["contentEncoding"] == "binary"
    assert described["inputs"]["file"]["minOccurs"] == 1
    assert described["inputs"]["algorithm"]["minOccurs"] == 0
    assert "sha1" in described["inputs"]["algorithm"]["schema"]["enum"]
    assert described["outputs"]["hexdigest"]["schema"]["type"] == "string"
    execute_link = next(link for link in described["links"] if link["rel"] == f"{OGC_REL}/execute")
    assert execute_link["href"].endswith("/ogc/processes/checksum/execution")


def test_unknown_process_is_no_such_process(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    kind = f"{OGC_EXCEPTIONS}/no-such-process"
    assert_exception(client.get("/ogc/processes/nope", headers=user_headers), 404, kind)
    assert_exception(execute(client, user_headers, "nope", {}), 404, kind)


def test_without_credentials_the_answer_is_an_exception_report(client: TestClient) -> None:
    response = client.get("/ogc/processes")
    assert_exception(response, 401, "about:blank")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.usefixtures("worker")
def test_execute_asynchronously_follow_the_job_and_read_results_as_document(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    response = execute(
        client,
        user_headers,
        "echo",
        {"message": {"value": "hi"}, "payload": {"a": [1, 2]}},
        response="document",
    )
    assert response.status_code == 201, response.text
    assert response.headers["preference-applied"] == "respond-async"
    info = response.json()
    assert info["status"] in ("accepted", "running", "successful")
    assert response.headers["location"].endswith(f"/ogc/jobs/{info['jobID']}")

    ended = wait_for_status(client, user_headers, info["jobID"], "successful")
    assert ended["progress"] == 100
    assert ended["processID"] == "echo"
    results_link = next(link for link in ended["links"] if link["rel"] == f"{OGC_REL}/results")
    results = client.get(results_link["href"], headers=user_headers).json()
    assert results == {"message": "hi", "payload": {"a": [1, 2]}}
    # The same job through the REST API.
    job = client.get(f"/api/v1/jobs/{info['jobID']}", headers=user_headers).json()
    assert job["state"] == "succeeded"
    assert job["inputs"] == {"message": "hi", "payload": {"a": [1, 2]}}


@pytest.mark.usefixtures("worker")
def test_raw_results_of_one_chosen_output_are_its_value(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    info = execute(client, user_headers, "echo", {"message": "raw"}, outputs={"message": {}}).json()
    wait_for_status(client, user_headers, info["jobID"], "successful")
    response = client.get(f"/ogc/jobs/{info['jobID']}/results", headers=user_headers)
    assert response.json() == "raw"


@pytest.mark.usefixtures("worker")
def test_synchronous_execution_answers_the_results(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    response = client.post(
        "/ogc/processes/echo/execution",
        headers=user_headers,
        json={"inputs": {"message": "now"}, "response": "document"},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"message": "now", "payload": None}


@pytest.mark.usefixtures("worker")
def test_a_failed_job_answers_its_error_for_results(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    info = execute(client, user_headers, "fail", {"message": "broken on purpose"}).json()
    wait_for_status(client, user_headers, info["jobID"], "failed")
    body = assert_exception(
        client.get(f"/ogc/jobs/{info['jobID']}/results", headers=user_headers),
        400,
        "urn:tooljobs:error:job-failed",
    )
    assert body["error"]["message"] == "broken on purpose"


@pytest.mark.usefixtures("worker")
def test_file_inputs_by_reference_and_inline_and_artifacts_as_links(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    file_id = upload(client, user_headers)
    digest = hashlib.sha256(CONTENT).hexdigest()
    by_reference = execute(
        client,
        user_headers,
        "checksum",
        {"file": {"href": f"http://testserver/api/v1/files/{file_id}"}},
        response="document",
    ).json()
    inline = execute(
        client,
        user_headers,
        "checksum",
        {"file": {"value": base64.b64encode(CONTENT).decode(), "mediaType": "text/plain"}},
        response="document",
    ).json()
    for info in (by_reference, inline):
        wait_for_status(client, user_headers, info["jobID"], "successful")
        results = client.get(f"/ogc/jobs/{info['jobID']}/results", headers=user_headers).json()
        assert results["hexdigest"] == digest

    compressed = execute(
        client,
        user_headers,
        "compress",
        {"file": {"href": f"/api/v1/files/{file_id}"}},
        response="document",
    ).json()
    wait_for_status(client, user_headers, compressed["jobID"], "successful")
    results = client.get(f"/ogc/jobs/{compressed['jobID']}/results", headers=user_headers).json()
    links = [value for value in results.values() if isinstance(value, dict) and "href" in value]
    assert len(links) == 1
    download = client.get(links[0]["href"], headers=user_headers)
    assert download.status_code == 200
    assert len(download.content) > 0


@pytest.mark.usefixtures("worker")
def test_raw_results_of_an_artifact_are_its_bytes(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    file_id = upload(client, user_headers)
    tools = client.get("/api/v1/tools/compress", headers=user_headers).json()
    artifact_free_outputs = set(tools["outputs_schema"].get("properties", {}))
    info = execute(client, user_headers, "compress", {"file": file_id}).json()
    wait_for_status(client, user_headers, info["jobID"], "successful")
    document = client.get(f"/api/v1/jobs/{info['jobID']}/artifacts", headers=user_headers).json()
    name = document[0]["name"]
    assert name not in artifact_free_outputs
    # Raw with several outputs answers the document; choosing the artifact, its bytes.
    chosen = execute(client, user_headers, "compress", {"file": file_id}, outputs={name: {}})
    chosen_id = chosen.json()["jobID"]
    wait_for_status(client, user_headers, chosen_id, "successful")
    raw = client.get(f"/ogc/jobs/{chosen_id}/results", headers=user_headers)
    assert raw.status_code == 200
    expected = client.get(f"/api/v1/jobs/{chosen_id}/artifacts/{name}", headers=user_headers)
    assert raw.content == expected.content


def test_invalid_inputs_are_400_naming_the_input_and_queue_nothing(
    client: TestClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    others_file = upload(client, other_user_headers)
    cases = [
        ("echo", {"message": 5}, ["inputs", "message"]),
        ("echo", {}, ["inputs", "message"]),
        ("sleep", {"seconds": {"value": -1}}, ["inputs", "seconds"]),
        ("checksum", {"file": others_file}, ["inputs", "file"]),
        ("checksum", {"file": {"value": "not base64!"}}, ["inputs", "file"]),
        ("checksum", {"file": {"href": "http://169.254.169.254/latest"}}, ["inputs", "file"]),
        ("echo", {"message": {"href": "http://127.0.0.1:1/unreachable"}}, ["inputs", "message"]),
    ]
    for process, inputs, location in cases:
        body = assert_exception(
            execute(client, user_headers, process, inputs), 400, "urn:tooljobs:error:invalid-input"
        )
        assert location in [error["loc"] for error in body["errors"]], (process, body)
    body = assert_exception(
        client.post(
            "/ogc/processes/echo/execution",
            headers=user_headers,
            json={"inputs": {"message": "x"}, "response": "sideways"},
        ),
        400,
        "urn:tooljobs:error:invalid-input",
    )
    assert ["body", "response"] in [error["loc"] for error in body["errors"]]
    assert client.get("/api/v1/jobs", headers=user_headers).json()["items"] == []


def test_a_refused_execution_leaves_no_file_of_its_inline_or_fetched_inputs(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    owner_id = uuid.UUID(client.get("/api/v1/users/me", headers=user_headers).json()["id"])

    def files_of_owner() -> list[uuid.UUID]:
        with SessionLocal() as session:
            return list(session.scalars(select(File.id).where(File.owner_id == owner_id)))

    before = files_of_owner()
    inline = {"value": base64.b64encode(CONTENT).decode(), "mediaType": "text/plain"}
    refused = execute(client, user_headers, "checksum", {"file": inline, "algorithm": "rot13"})
    body = assert_exception(refused, 400, "urn:tooljobs:error:invalid-input")
    assert ["inputs", "algorithm"] in [error["loc"] for error in body["errors"]]
    assert files_of_owner() == before
    accepted = execute(client, user_headers, "checksum", {"file": inline})
    assert accepted.status_code == 201, accepted.text
    assert len(files_of_owner()) == len(before) + 1


def test_a_reference_to_a_url_is_fetched_under_the_outbound_policy(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    # The tests allow-list loopback (tests/support/environment.py), as an operator may.
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n"
        b'Connection: close\r\n\r\n"from afar"'
    )
    with listening(answer=answer) as listener:
        info = execute(
            client, user_headers, "echo", {"message": {"href": f"http://{listener.netloc}/m"}}
        ).json()
    job = client.get(f"/api/v1/jobs/{info['jobID']}", headers=user_headers).json()
    assert job["inputs"]["message"] == "from afar"


def test_other_users_jobs_do_not_exist_here(
    client: TestClient, user_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    info = execute(client, other_user_headers, "echo", {"message": "mine"}).json()
    kind = f"{OGC_EXCEPTIONS}/no-such-job"
    for path in (f"/ogc/jobs/{info['jobID']}", f"/ogc/jobs/{info['jobID']}/results"):
        assert_exception(client.get(path, headers=user_headers), 404, kind)
    assert_exception(client.delete(f"/ogc/jobs/{info['jobID']}", headers=user_headers), 404, kind)
    for unknown in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        assert_exception(client.get(f"/ogc/jobs/{unknown}", headers=user_headers), 404, kind)
    assert client.get("/ogc/jobs", headers=user_headers).json()["jobs"] == []


@pytest.mark.usefixtures("worker")
def test_results_of_a_job_not_ended_are_not_ready(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    info = execute(client, user_headers, "sleep", {"seconds": 30, "steps": 300}).json()
    assert info["status"] in ("accepted", "running")
    assert_exception(
        client.get(f"/ogc/jobs/{info['jobID']}/results", headers=user_headers),
        404,
        f"{OGC_EXCEPTIONS}/result-not-ready",
    )
    client.delete(f"/ogc/jobs/{info['jobID']}", headers=user_headers)


@pytest.mark.usefixtures("worker")
def test_dismiss_cancels_a_running_job_then_removes_it(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    info = execute(client, user_headers, "sleep", {"seconds": 30, "steps": 300}).json()
    wait_for_status(client, user_headers, info["jobID"], "running")
    dismissed = client.delete(f"/ogc/jobs/{info['jobID']}", headers=user_headers)
    assert dismissed.status_code == 200
    assert dismissed.json()["status"] == "dismissed"
    job = wait_for_end(client, user_headers, info["jobID"])
    assert job["state"] == "cancelled"
    assert status_of(client, user_headers, info["jobID"])["status"] == "dismissed"
    # Dismissing an ended job removes it.
    assert client.delete(f"/ogc/jobs/{info['jobID']}", headers=user_headers).status_code == 200
    assert client.get(f"/api/v1/jobs/{info['jobID']}", headers=user_headers).status_code == 404


@pytest.mark.usefixtures("worker")
def test_job_list_filters_and_pages(client: TestClient, user_headers: dict[str, str]) -> None:
    echo_ids = [
        execute(client, user_headers, "echo", {"message": str(n)}).json()["jobID"] for n in range(5)
    ]
    sleep_id = execute(client, user_headers, "sleep", {"seconds": 0.2}).json()["jobID"]
    for job_id in [*echo_ids, sleep_id]:
        wait_for_status(client, user_headers, job_id, "successful")

    def listed(query: str) -> dict[str, Any]:
        response = client.get(f"/ogc/jobs?{query}", headers=user_headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    assert {job["jobID"] for job in listed("processID=echo")["jobs"]} == set(echo_ids)
    assert [job["jobID"] for job in listed("processID=sleep,nope")["jobs"]] == [sleep_id]
    assert len(listed("status=successful,running")["jobs"]) == 6
    assert listed("status=accepted,failed,dismissed")["jobs"] == []
    assert listed("type=process&limit=100")["jobs"] != []
    assert listed("type=other")["jobs"] == []
    assert len(listed("datetime=2000-01-01T00:00:00Z/..")["jobs"]) == 6
    assert listed("datetime=../2000-01-01T00:00:00Z")["jobs"] == []
    assert [job["jobID"] for job in listed("minDuration=0&processID=sleep")["jobs"]] == [sleep_id]
    assert listed("minDuration=3600")["jobs"] == []
    assert len(listed("maxDuration=3600")["jobs"]) == 6

    pages, query = [], "limit=4"
    while True:
        page = listed(query)
        pages.append([job["jobID"] for job in page["jobs"]])
        following = [link for link in page["links"] if link["rel"] == "next"]
        if not following:
            break
        query = following[0]["href"].split("?", 1)[1]
    assert [len(page) for page in pages] == [4, 2]
    assert sorted(job for page in pages for job in page) == sorted([*echo_ids, sleep_id])

    for bad in ("status=finished", "datetime=yesterday", "minDuration=-1", "limit=0"):
        body = assert_exception(
            client.get(f"/ogc/jobs?{bad}", headers=user_headers),
            400,
            "urn:tooljobs:error:invalid-input",
        )
        assert body["errors"], bad
    assert SCAN_ROWS_PER_PAGE >= 100


@pytest.mark.usefixtures("worker")
def test_a_subscriber_hears_of_the_start_and_the_results_or_the_failure(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    with receiving() as (base, received):
        subscriber = {
            "successUri": f"{base}/success",
            "inProgressUri": f"{base}/progress",
            "failedUri": f"{base}/failed",
        }
        done = execute(
            client, user_headers, "echo", {"message": "called back"}, subscriber=subscriber
        ).json()
        failed = execute(client, user_headers, "fail", {}, subscriber=subscriber).json()
        wait_until(lambda: len(received) == 4, timeout=30)
    by_path: dict[str, list[dict[str, Any]]] = {}
    for delivery in received:
        by_path.setdefault(delivery.path, []).append(json.loads(delivery.body))
        expected = hmac.new(b"webhook-secret-for-tests", delivery.body, hashlib.sha256)
        assert delivery.headers["X-Tooljobs-Signature"] == f"sha256={expected.hexdigest()}"
    assert by_path["/success"] == [{"message": "called back", "payload": None}]
    assert [report["jobID"] for report in by_path["/failed"]] == [failed["jobID"]]
    assert by_path["/failed"][0]["type"] == "urn:tooljobs:error:job-failed"
    assert sorted(info["jobID"] for info in by_path["/progress"]) == sorted(
        [done["jobID"], failed["jobID"]]
    )
    links = {link["rel"] for info in by_path["/progress"] for link in info["links"]}
    assert "self" in links


def test_a_subscriber_url_to_a_private_address_is_refused(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    body = assert_exception(
        execute(
            client,
            user_headers,
            "echo",
            {"message": "x"},
            subscriber={"successUri": "http://10.0.0.1/hook"},
        ),
        400,
        "urn:tooljobs:error:invalid-input",
    )
    assert ["subscriber", "successUri"] in [error["loc"] for error in body["errors"]]
    body = assert_exception(
        execute(
            client, user_headers, "echo", {"message": "x"}, subscriber={"successUri": "ftp://x"}
        ),
        400,
        "urn:tooljobs:error:invalid-input",
    )
    assert ["body", "subscriber", "successUri"] in [error["loc"] for error in body["errors"]]
