import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import app
from app.tools.registry import catalog
from tests.support.tool_packages import BROKEN_EXPECTED, install_broken_tools


def test_tools_are_listed_with_their_schemas(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    tools = {
        tool["name"]: tool for tool in client.get("/api/v1/tools", headers=user_headers).json()
    }
    assert {"echo", "sleep", "fail"} <= set(tools)
    sleep = tools["sleep"]
    assert sleep["inputs_schema"]["properties"]["seconds"]["maximum"] == 3600
    assert sleep["inputs_schema"]["properties"]["steps"]["default"] == 10
    assert sleep["outputs_schema"]["properties"]["slept"]["type"] == "number"
    assert tools["echo"]["inputs_schema"]["required"] == ["message"]


def test_one_tool_and_an_unknown_one(client: TestClient, user_headers: dict[str, str]) -> None:
    echo = client.get("/api/v1/tools/echo", headers=user_headers)
    assert echo.status_code == 200
    assert echo.json()["version"] == "1.0.0"
    assert client.get("/api/v1/tools/nope", headers=user_headers).status_code == 404


def test_tools_need_credentials(client: TestClient) -> None:
    assert client.get("/api/v1/tools").status_code == 401


def test_each_tool_has_a_typed_submit_route_in_openapi(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    operation = spec["paths"]["/api/v1/tools/sleep/jobs"]["post"]
    body_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = spec["components"]["schemas"][body_ref.rsplit("/", 1)[1]]
    inputs_ref = body["properties"]["inputs"]["$ref"].rsplit("/", 1)[1]
    assert "seconds" in spec["components"]["schemas"][inputs_ref]["properties"]


def test_every_route_has_a_description(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
            assert operation.get("description"), f"{method.upper()} {path} has no description"


@pytest.fixture
def broken_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    install_broken_tools(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    catalog.cache_clear()
    yield
    catalog.cache_clear()
    for module in ("tooljobs_broken", "tooljobs_unimportable"):
        sys.modules.pop(module, None)


@pytest.mark.usefixtures("broken_tools")
def test_superusers_list_broken_tools_with_their_errors(
    client: TestClient, superuser_headers: dict[str, str], user_headers: dict[str, str]
) -> None:
    answer = client.get("/api/v1/tools?include=broken", headers=superuser_headers)
    assert answer.status_code == 200
    broken = {tool["label"]: tool for tool in answer.json() if tool["status"] == "broken"}
    assert set(broken) >= set(BROKEN_EXPECTED)
    argv_typo = broken["ArgvTypo ('argv-typo')"]
    assert argv_typo["name"] == "argv-typo"
    assert argv_typo["where"].endswith("tooljobs_broken.py:79")
    assert BROKEN_EXPECTED["ArgvTypo ('argv-typo')"] in argv_typo["error"]
    working = [tool["name"] for tool in answer.json() if tool["status"] == "ok"]
    assert "still-good" in working
    assert working == [
        tool["name"] for tool in client.get("/api/v1/tools", headers=user_headers).json()
    ]
    refused = client.get("/api/v1/tools?include=broken", headers=user_headers)
    assert refused.status_code == 403
    assert refused.json() == {"detail": "include=broken is for superusers"}


@pytest.mark.usefixtures("broken_tools")
def test_the_api_logs_each_broken_tool_as_it_starts(caplog: pytest.LogCaptureFixture) -> None:
    with TestClient(app):
        pass
    left_out = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(left_out) == len(BROKEN_EXPECTED) + 2
    assert any(m.startswith("tool left out: ") and "ArgvTypo ('argv-typo')" in m for m in left_out)


@pytest.mark.usefixtures("broken_tools")
def test_readiness_is_degraded_naming_broken_tools_but_still_200(client: TestClient) -> None:
    ready = client.get("/api/v1/health/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["database"] == "ok"
    broken = len(BROKEN_EXPECTED) + 2  # and the module and the entry point that fail
    assert ready.json()["checks"]["tools"].startswith(f"{broken} broken and left out: ")
    assert "argv-typo" in ready.json()["checks"]["tools"]


def test_readiness_is_ok_when_every_tool_loads(client: TestClient) -> None:
    ready = client.get("/api/v1/health/ready").json()
    assert ready == {"status": "ok", "checks": {**ready["checks"], "tools": "ok"}}
    assert set(ready["checks"].values()) == {"ok"}
