"""A small OpenTelemetry collector: it takes OTLP/HTTP trace exports (protobuf) on
127.0.0.1 and keeps their spans for a test to read."""

import gzip
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

DECOMPRESS = {"gzip": gzip.decompress, "deflate": zlib.decompress}


@dataclass(frozen=True)
class ExportedSpan:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    # Its string attributes.
    attributes: dict[str, str]

    @property
    def kind_name(self) -> str:
        return str(Span.SpanKind.Name(self.kind))  # type: ignore[arg-type]


class Collector:
    def __init__(self) -> None:
        self.spans: list[ExportedSpan] = []
        self._lock = threading.Lock()

    def receive(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        received = []
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                received += [
                    ExportedSpan(
                        service=attributes.get("service.name", ""),
                        name=span.name,
                        kind=span.kind,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        attributes={a.key: a.value.string_value for a in span.attributes},
                    )
                    for span in scope_spans.spans
                ]
        with self._lock:
            self.spans += received

    def exported(self) -> list[ExportedSpan]:
        with self._lock:
            return list(self.spans)


@contextmanager
def running_collector() -> Iterator[tuple[Collector, str]]:
    """A collector and its endpoint (for OTEL_EXPORTER_OTLP_ENDPOINT)."""
    collector = Collector()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            encoding = self.headers.get("Content-Encoding")
            if encoding in DECOMPRESS:
                body = DECOMPRESS[encoding](body)
            if self.path == "/v1/traces":
                collector.receive(body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield collector, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
