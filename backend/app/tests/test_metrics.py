"""GET /metrics: the whole deployment's jobs and queues, in Prometheus text."""

from fastapi.testclient import TestClient

from tests.support.job_api import submit_tool_job
from tests.support.metrics import scrape


def test_metrics_count_live_and_ended_jobs_and_queued_tasks(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    queue = (("queue", "default"),)
    before = scrape(client).get(("tooljobs_queue_messages", queue), 0)
    # No worker runs here: the jobs wait in the queue until they are cancelled.
    jobs = [submit_tool_job(client, user_headers, "echo", {"message": "hi"}) for _ in range(3)]
    for job in jobs[:2]:
        response = client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=user_headers)
        assert response.status_code == 200
    # A second cancel changes nothing, so it is not counted again.
    client.post(f"/api/v1/jobs/{jobs[0]['id']}/cancel", headers=user_headers)

    metrics = scrape(client)
    assert metrics[("tooljobs_jobs", (("state", "queued"), ("tool", "echo")))] == 1
    assert metrics[("tooljobs_jobs_ended_total", (("state", "cancelled"), ("tool", "echo")))] == 2
    # The cancelled jobs' tasks stay in the queue until a worker drops them.
    assert metrics[("tooljobs_queue_messages", queue)] == before + 3
