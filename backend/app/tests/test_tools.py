from fastapi.testclient import TestClient


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
