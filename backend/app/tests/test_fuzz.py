"""Schemathesis against the OpenAPI document: whatever a client sends, no 5xx, and
every answer is one the document declares, with the body it declares."""

import uuid
from collections.abc import Iterator

import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi

from app.core.config import settings as app_settings
from app.main import app
from tests.support.users import auth, make_api_key, make_user

# Every check with its defaults: a schema-valid request is accepted, a schema-violating
# one refused. Bounded so the module stays near a minute on two cores: a score of
# examples per operation, valid and invalid ones, from the schema's own examples, its
# boundaries (coverage) and generation, the same ones every run so that a failure
# reproduces. No stateful phase here: TestLinkedCalls below.
# No NUL in generated text: the API refuses it anywhere in a body, which the document
# states for every string it types, but cannot for free-form JSON (an echo's `payload`,
# an OGC execution's `inputs`): "no NUL at any depth" takes a schema that refers to
# itself, which generated clients cannot read. tests/test_input_limits.py sends NULs.
GENERATION = {"max-examples": 20, "database": "none", "deterministic": True, "allow-x00": False}
# A tus creation, the one operation with required headers that succeeds, differs from
# schemathesis' expectations twice. A header nobody declared is ignored, not refused: a
# server should ignore header fields it does not know (RFC 9110, 5.1), and proxies add
# them. An Upload-Length past the maximum is refused with 413, as tus 1.0 says (and as
# HTTP names a request too large), which is not among the refusals schemathesis expects.
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
OPERATIONS = [
    {
        "include-operation-id": "uploads-create-upload",
        "generation": {"allow-extra-parameters": False},
        "checks": {"negative_data_rejection": {"expected-statuses": REFUSALS}},
    }
]
CONFIG = SchemathesisConfig.from_dict(
    {"generation": GENERATION, "phases": {"stateful": {"enabled": False}}, "operations": OPERATIONS}
)

# A tus PATCH's body is bytes, spelled as tus spells them.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")

schema = schemathesis.openapi.from_asgi(
    f"{app_settings.API_V1_STR}/openapi.json", app, config=CONFIG
)
# The OGC face's own document, under the same checks (it answers an invalid request 400),
# but for one rule: OGC API - Processes asks for OpenAPI 3.0, which has no
# `propertyNames`, so the document cannot say that a label's key is 1 to 63 characters.
OGC_CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": GENERATION,
        "phases": {"stateful": {"enabled": False}},
        "operations": [
            {
                "include-operation-id": "ogc-execute",
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": [
                            "2xx",
                            "3xx",
                            "400",
                            "401",
                            "403",
                            "404",
                            "409",
                            "429",
                        ]
                    }
                },
            }
        ],
    }
)
ogc_schema = schemathesis.openapi.from_asgi("/ogc/api", app, config=OGC_CONFIG)


# Sequences of calls that follow the document's links: a submitted job's id to its
# reads, cancel, log, artifacts and delete; a schedule's, a file's, a key's to theirs. No
# worker runs here, so a job stays queued: `?wait` is made 0 and the event stream (which
# ends with the job) is left to test_job_waiting.py.
STATEFUL_CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {**GENERATION, "max-examples": 15},
        "phases": {"stateful": {"max-steps": 8}},
        "operations": OPERATIONS,
    }
)
stateful_schema = schemathesis.openapi.from_asgi(
    f"{app_settings.API_V1_STR}/openapi.json", app, config=STATEFUL_CONFIG
).exclude(operation_id="jobs-follow-job")


class LinkedCalls(stateful_schema.as_state_machine()):  # type: ignore[misc]
    def setup(self) -> None:
        self.headers = auth(make_user(f"{uuid.uuid4()}@example.com", password=None))

    def before_call(self, case: schemathesis.Case) -> None:
        if case.query and "wait" in case.query:
            case.query["wait"] = 0

    def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, object]:
        return {"headers": self.headers}


TestLinkedCalls = pytest.mark.usefixtures("database")(LinkedCalls.TestCase)


@pytest.fixture(scope="module", autouse=True)
def stop_the_fuzzed_app() -> Iterator[None]:
    # Schemathesis starts the app's lifespan once and keeps it for the process; the next
    # modules start their own, so this one ends with the module.
    yield
    asgi.shutdown_lifespans()


@pytest.fixture
def credentials(user_headers: dict[str, str], request: pytest.FixtureRequest) -> dict[str, str]:
    """A normal user's: reads with an API key, everything else with a bearer token (the
    rest of the suite checks that each works wherever the other does)."""
    case_label = request.node.name
    if "[GET " in case_label:
        token = user_headers["Authorization"].removeprefix("Bearer ")
        return {"X-API-Key": make_api_key(token)}
    return user_headers


@schema.parametrize()
# One user for all the examples of an operation is what the test wants.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_request_gets_a_declared_answer(
    case: schemathesis.Case, credentials: dict[str, str]
) -> None:
    case.call_and_validate(headers=credentials)


@ogc_schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_ogc_request_gets_a_declared_answer(
    case: schemathesis.Case, user_headers: dict[str, str]
) -> None:
    # Asynchronous executions: with no worker here, a synchronous one would wait its time.
    case.call_and_validate(headers={**user_headers, "Prefer": "respond-async"})


def test_every_link_leads_to_an_operation_and_fills_its_path_parameters() -> None:
    document = app.openapi()
    operations = {
        operation["operationId"]: (path, operation)
        for path, item in document["paths"].items()
        for operation in item.values()
    }
    followed = set()
    for item in document["paths"].values():
        for operation in item.values():
            for response in operation["responses"].values():
                for link in response.get("links", {}).values():
                    path, target = operations[link["operationId"]]
                    path_parameters = {
                        parameter["name"]
                        for parameter in target.get("parameters", [])
                        if parameter["in"] == "path"
                    }
                    assert set(link["parameters"]) == path_parameters, path
                    followed.add(link["operationId"])
    # Every operation on one job, file or schedule is reached from the one that made it.
    by_id = {
        operation_id
        for operation_id, (path, _) in operations.items()
        if path.endswith(("{job_id}", "{file_id}", "{schedule_id}"))
        or "/{job_id}/" in path
        or "/{schedule_id}/" in path
        or "/{file_id}/" in path
    }
    assert by_id - followed == set()


def test_a_tools_exactly_one_rule_admits_what_the_tool_takes() -> None:
    # text-stats states "exactly one of text and file" as a oneOf; refusing unknown keys
    # applies to its model, not to the branches, each of which names one field.
    inputs = app.openapi()["components"]["schemas"]["TextStatsInputs"]
    validator = jsonschema.Draft202012Validator(inputs)
    assert validator.is_valid({"text": "a b", "file": None})
    assert validator.is_valid({"file": str(uuid.uuid4())})
    assert not validator.is_valid({"text": "a", "file": str(uuid.uuid4())})
    assert not validator.is_valid({"txet": "a"})
