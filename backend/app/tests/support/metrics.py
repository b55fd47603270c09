"""GET /metrics, read back as samples."""

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(metric name, sorted labels) -> value of every sample the API answers."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
