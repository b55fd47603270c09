"""Submitting jobs and waiting for them through the API, with a TestClient or an
httpx.Client whose base URL is a real API process."""

from typing import Any

import httpx

from tests.support.waiting import wait_until


def submit(client: httpx.Client, headers: dict[str, str], **body: Any) -> Any:
    """POST /jobs, an echo job unless `body` says otherwise; returns the response."""
    body.setdefault("tool", "echo")
    body.setdefault("inputs", {"message": "hi"})
    return client.post("/api/v1/jobs", headers=headers, json=body)


def submit_tool_job(
    client: httpx.Client, headers: dict[str, str], tool: str, inputs: dict[str, Any], **options: Any
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/tools/{tool}/jobs", headers=headers, json={"inputs": inputs, **options}
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_for_state(
    client: httpx.Client, headers: dict[str, str], job_id: str, state: str
) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}", headers=headers).json()
        return job if job["state"] == state else None

    return wait_until(reached, timeout=30)


def wait_for_end(client: httpx.Client, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}", headers=headers).json()
        return job if job["state"] in {"succeeded", "failed", "cancelled"} else None

    return wait_until(ended, timeout=30)
