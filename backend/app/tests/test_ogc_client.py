"""The OGC face driven by an independent OGC client (OWSLib's `owslib.ogcapi.processes`)
against a real API process and a real worker, as a user of such a client would."""

import base64
import hashlib
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from owslib.ogcapi.processes import Processes

from tests.support.processes import api_and_worker
from tests.support.users import auth, make_user

CONTENT = b"a file for an OGC client\n" * 100


@pytest.fixture(scope="module")
def ogc_url(database: None) -> Iterator[str]:
    """The /ogc/ URL of a real API with a worker (the trailing slash: OWSLib joins paths)."""
    folder = Path(tempfile.mkdtemp(prefix="ogc-client-"))
    with (
        (folder / "api.log").open("wb") as api_output,
        (folder / "worker.log").open("wb") as worker_output,
        api_and_worker(
            {}, worker_loglevel="WARNING", api_output=api_output, worker_output=worker_output
        ) as url,
    ):
        yield url.removesuffix("/api/v1") + "/ogc/"


def client(url: str, headers: dict[str, str]) -> Processes:
    return Processes(url, headers=headers)


def follow(processes: Processes, job_id: str, *statuses: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        info: dict[str, Any] = processes._request(path=f"jobs/{job_id}")
        if info["status"] in statuses:
            return info
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never reached {statuses}")


def test_an_ogc_client_lists_describes_executes_and_dismisses(ogc_url: str) -> None:
    headers = auth(make_user("ogc-client@example.com"))
    processes = client(ogc_url, headers)

    assert (
        "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core"
        in (processes.conformance()["conformsTo"])
    )
    assert processes.api()["openapi"].startswith("3.0")
    assert "checksum" in {process["id"] for process in processes.processes()}
    assert processes.process("checksum")["inputs"]["file"]["minOccurs"] == 1

    # Asynchronous, with a literal and a file input (inline, base64).
    started = processes.execute(
        "checksum",
        inputs={
            "algorithm": "sha1",
            "file": {"value": base64.b64encode(CONTENT).decode(), "mediaType": "text/plain"},
        },
        response="document",
        async_=True,
    )
    location = processes.response_headers["Location"]
    assert location.endswith(f"/ogc/jobs/{started['jobID']}")
    follow(processes, started["jobID"], "successful")
    results = processes._request(path=f"jobs/{started['jobID']}/results")
    assert results["hexdigest"] == hashlib.sha1(CONTENT).hexdigest()

    # Raw results of one chosen output.
    raw_job = processes.execute(
        "echo", inputs={"message": "raw"}, outputs={"message": {}}, response="raw", async_=True
    )
    follow(processes, raw_job["jobID"], "successful")
    assert processes._request(path=f"jobs/{raw_job['jobID']}/results") == "raw"

    # Synchronous execution answers the results.
    assert processes.execute("echo", inputs={"message": "sync"}) == {
        "message": "sync",
        "payload": None,
    }

    # Dismiss a running job.
    running = processes.execute("sleep", inputs={"seconds": 30, "steps": 300}, async_=True)
    follow(processes, running["jobID"], "running")
    assert processes._request(method="DELETE", path=f"jobs/{running['jobID']}")["status"] == (
        "dismissed"
    )
    follow(processes, running["jobID"], "dismissed")

    # Unknown process and job: the client raises with the exception report.
    with pytest.raises(RuntimeError, match="no-such-process"):
        processes.process("nope")
    with pytest.raises(RuntimeError, match="no-such-job"):
        processes._request(path="jobs/00000000-0000-0000-0000-000000000000")
