"""OpenTelemetry traces across API -> broker -> worker, off unless the standard OTEL_*
variables ask for them.

Off, neither the SDK nor any instrumentation is imported, and nothing is instrumented.
On, each process sets up its tracer provider (in a worker, in each pool process: the
exporter's thread does not survive a fork) and instruments the libraries the app talks
through: Celery (which carries the trace in the task message's headers), SQLAlchemy,
Redis and httpx. FastAPI traces its requests by itself once a tracer provider is set
(its native telemetry). The OTEL_* variables keep their usual meaning: OTEL_SERVICE_NAME
and OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER, OTEL_BSP_*, OTEL_EXPORTER_OTLP_* and
OTEL_PROPAGATORS are read by OpenTelemetry itself.
"""

import os
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter
    from sqlalchemy import Engine

# OTLP over HTTP is the exporter this project installs (port 4318); any other one
# installed as an OpenTelemetry exporter package is found by its entry point's name.
EXPORTER_ALIASES = {"otlp": "otlp_proto_http"}


def tracing_requested() -> bool:
    """Whether the OTEL_* variables ask for traces: an exporter or an OTLP endpoint is set,
    and OTEL_SDK_DISABLED is not true."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return exporters != "none"
    return any(
        os.environ.get(name)
        for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def start_tracing(service_name: str, *engines: "Engine") -> bool:
    """Trace this process as `service_name` (unless OTEL_SERVICE_NAME names it): its
    requests (FastAPI's own spans), Celery sends and runs, Redis and httpx calls, and the
    statements of `engines`. Whether tracing is on."""
    if not tracing_requested():
        return False
    from opentelemetry import trace
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, OTELResourceDetector, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from_environment = OTELResourceDetector().detect()
    named = SERVICE_NAME in from_environment.attributes
    provider = TracerProvider(
        resource=Resource.create({} if named else {SERVICE_NAME: service_name})
    )
    for exporter in _exporters():
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    CeleryInstrumentor().instrument()  # type: ignore[no-untyped-call]  # untyped package
    RedisInstrumentor().instrument()
    HTTPXClientInstrumentor().instrument()
    if engines:
        SQLAlchemyInstrumentor().instrument(engines=list(engines))
    return True


def stop_tracing() -> None:
    """Export the spans still waiting (a worker's pool process ends without atexit)."""
    if not tracing_requested():
        return
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()


def _exporters() -> list["SpanExporter"]:
    names = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").lower().split(",")
    exporters: list[SpanExporter] = []
    for name in filter(None, (name.strip() for name in names)):
        if name == "none":
            continue
        found = entry_points(
            group="opentelemetry_traces_exporter", name=EXPORTER_ALIASES.get(name, name)
        )
        if not found:
            raise RuntimeError(f"OTEL_TRACES_EXPORTER: no trace exporter {name!r} is installed")
        exporters.append(next(iter(found)).load()())
    return exporters
