"""Traces: one job's trace, exported over OTLP by a real API process and a real worker,
holds the request, the broker hop and the worker's run; with no OTEL_* variable asking
for traces, nothing is instrumented."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.worker.task_routes import TaskName
from tests.support.log_files import whole_lines
from tests.support.otlp_collector import ExportedSpan, running_collector
from tests.support.paths import PROJECT_DIR
from tests.support.processes import api_and_worker
from tests.support.users import auth, make_user
from tests.support.waiting import wait_until


def chain_up(spans: list[ExportedSpan], span: ExportedSpan) -> list[ExportedSpan]:
    """The span and its ancestors, as far as they were exported."""
    by_id = {s.span_id: s for s in spans}
    chain = [span]
    while chain[-1].parent_span_id in by_id:
        chain.append(by_id[chain[-1].parent_span_id])
    return chain


def test_one_jobs_trace_holds_its_request_the_broker_hop_and_the_run(tmp_path: Path) -> None:
    api_log, worker_log = tmp_path / "api.log", tmp_path / "worker.log"
    with (
        running_collector() as (collector, endpoint),
        api_log.open("wb") as api_output,
        worker_log.open("wb") as worker_output,
    ):
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "LOG_FORMAT": "json",
        }
        with api_and_worker(
            env, worker_loglevel="INFO", api_output=api_output, worker_output=worker_output
        ) as url:
            headers = auth(make_user("traced@example.com"))
            submitted = httpx.post(
                f"{url}/jobs", headers=headers, json={"tool": "echo", "inputs": {"message": "x"}}
            )
            assert submitted.status_code == 202, submitted.text
            job_id = submitted.json()["id"]

            def whole_chain() -> list[ExportedSpan] | None:
                spans = collector.exported()
                # This job's run: the worker may also run a job an earlier test left queued.
                runs = [
                    s
                    for s in spans
                    if s.name == f"run/{TaskName.RUN_JOB}"
                    and s.attributes.get("messaging.message.id") == job_id
                ]
                if not runs:
                    return None
                chain = chain_up(spans, runs[0])
                return chain if chain[-1].parent_span_id == "" else None

            chain = wait_until(whole_chain, timeout=30, interval=0.2)
    run, publish, *between, request = chain
    assert (run.service, run.kind_name) == ("tooljobs-worker", "SPAN_KIND_CONSUMER")
    assert publish.name == f"apply_async/{TaskName.RUN_JOB}"
    assert (publish.service, publish.kind_name) == ("tooljobs-api", "SPAN_KIND_PRODUCER")
    assert request.name == "POST /api/v1/jobs"
    assert (request.service, request.kind_name) == ("tooljobs-api", "SPAN_KIND_SERVER")
    assert all(span.service == "tooljobs-api" for span in between)
    assert len({span.trace_id for span in chain}) == 1
    # The run's own work (its statements, its Redis calls) is in the trace too.
    worker_spans = [s for s in collector.exported() if s.parent_span_id == run.span_id]
    assert worker_spans, "the run's statements and Redis calls were not traced"
    assert run.attributes["messaging.message.id"] == job_id
    # Each log line says in which trace and span it was written.
    submit_line = logged(api_log, event="request", path="/api/v1/jobs")
    assert (submit_line["trace_id"], submit_line["span_id"]) == (request.trace_id, request.span_id)
    run_line = logged(worker_log, job_id=job_id, logger="celery.app.trace")
    assert (run_line["trace_id"], run_line["span_id"]) == (run.trace_id, run.span_id)


def logged(log: Path, **fields: object) -> dict[str, Any]:
    for line in whole_lines(log):
        event: dict[str, Any] = json.loads(line) if line.startswith("{") else {}
        if all(event.get(key) == value for key, value in fields.items()):
            return event
    raise AssertionError(f"no line with {fields} in {log.name}")


# What tells, in a process that imported the API and the worker's tasks, whether it
# traces: a tracer provider of the SDK, instrumentations loaded, FastAPI's own spans on.
# (FastAPI imports OpenTelemetry's API, and redis-py its SDK's metrics, to see whether
# they are there; neither does anything unless configured.)
TRACING_STATE = """
import json, sys
from opentelemetry import trace
import app.main, app.worker.tasks
print(json.dumps([
    type(trace.get_tracer_provider()).__module__.startswith("opentelemetry.sdk"),
    any(name.startswith("opentelemetry.instrumentation") for name in sys.modules),
    app.main.app._native_telemetry.enabled(),
]))
"""


def traced(env: dict[str, str]) -> list[bool]:
    plain = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    result = subprocess.run(
        [sys.executable, "-c", TRACING_STATE],
        cwd=PROJECT_DIR,
        env={**plain, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    state: list[bool] = json.loads(result.stdout)
    return state


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, False),
        ({"OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:9/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
    ],
)
def test_only_otel_variables_asking_for_traces_instrument_anything(
    env: dict[str, str], on: bool
) -> None:
    assert traced(env) == [on, on, on]


@pytest.mark.parametrize(
    ("env", "service"),
    [
        ({}, "tooljobs-api"),
        ({"OTEL_SERVICE_NAME": "edge-api"}, "edge-api"),
        ({"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attributes"}, "from-attributes"),
    ],
)
def test_the_service_name_is_the_processs_unless_otel_names_it(
    env: dict[str, str], service: str
) -> None:
    plain = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from opentelemetry import trace; from app.core import telemetry; "
            "assert telemetry.start_tracing('tooljobs-api'); "
            "print(trace.get_tracer_provider().resource.attributes['service.name'])",
        ],
        cwd=PROJECT_DIR,
        env={**plain, "OTEL_TRACES_EXPORTER": "console", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == service
