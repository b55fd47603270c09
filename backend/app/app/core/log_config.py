"""Every process's log lines, the app's and its libraries' (uvicorn, Celery, SQLAlchemy),
through one structlog formatter on the root logger: one JSON object a line, or lines for
a person to read (LOG_FORMAT). Each line carries what app.core.log_context bound (request
id, job id, tool, user id), and never a secret: values under secret-sounding keys,
passwords in URLs, bearer tokens, API keys and the configured secrets are masked.

The app keeps logging through `logging.getLogger(__name__)`; structlog only formats.
"""

import functools
import logging
import re
import sys
from collections.abc import Iterable

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from app.core.config import settings
from app.core.security import API_KEY_MARK

MASK = "[redacted]"
SECRET_KEY_PARTS = ("password", "secret", "token", "authorization", "api_key", "cookie")
SECRET_PATTERNS = (
    # user:password@ in a URL (a database or broker URL in an error message).
    (re.compile(r"(?<=://)([^/\s:@]*):[^/\s@]+@"), rf"\1:{MASK}@"),
    (re.compile(r"\b((?i:bearer|basic))\s+[\w.~+/=-]{8,}"), rf"\1 {MASK}"),
    (re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]*"), MASK),  # a JWT
    (re.compile(rf"\b{API_KEY_MARK}[\w-]{{20,}}"), f"{API_KEY_MARK}{MASK}"),
    # A secret in a URL's query (in an access line).
    (re.compile(r"([?&](?i:password|token|access_token|api_key|secret)=)[^&\s\"']+"), rf"\1{MASK}"),
)
# Shorter values would mask ordinary words; the defaults ("changethis") are no secret.
MIN_SECRET_LENGTH = 8


@functools.cache
def _secret_key(key: str) -> bool:
    normalized = key.lower().replace("-", "_")
    return any(part in normalized for part in SECRET_KEY_PARTS)


# What each of SECRET_PATTERNS needs to find (Bearer, bearer, BEARER; Basic ...): a text
# with none of these is left as it is, at the cost of a few substring tests.
SECRET_MARKS = ("://", "earer", "EARER", "asic", "ASIC", "eyJ", API_KEY_MARK, "=")


class SecretMask:
    """A processor that masks secrets in an event's keys and text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = sorted(
            {secret for secret in secrets if len(secret) >= MIN_SECRET_LENGTH}, key=len
        )[::-1]
        self.marks = (*SECRET_MARKS, *self.secrets)

    def __call__(self, _: WrappedLogger, __: str, event: EventDict) -> EventDict:
        for key, value in event.items():
            if _secret_key(key):
                event[key] = MASK
            elif isinstance(value, str) and self._suspect(value):
                event[key] = self.masked(value)
        return event

    def _suspect(self, text: str) -> bool:
        # Every log line passes here, and almost none holds a secret.
        return any(mark in text for mark in self.marks)

    def masked(self, text: str) -> str:
        for pattern, replacement in SECRET_PATTERNS:
            text = pattern.sub(replacement, text)
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text


def configured_secrets() -> list[str]:
    return [
        settings.SECRET_KEY,
        settings.POSTGRES_PASSWORD,
        settings.FIRST_SUPERUSER_PASSWORD,
        settings.WEBHOOK_SECRET,
    ]


def json_lines() -> bool:
    if settings.LOG_FORMAT != "auto":
        return settings.LOG_FORMAT == "json"
    return not (settings.ENVIRONMENT == "local" or sys.stderr.isatty())


def formatter(*, json: bool, trace_ids: bool = False) -> structlog.stdlib.ProcessorFormatter:
    renderer: Processor = (
        structlog.processors.JSONRenderer(default=str)
        if json
        # Plain tracebacks: the pretty ones (rich) print local variables, passwords among them.
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.contextvars.merge_contextvars, access_fields],
        pass_foreign_args=True,
        processors=[
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            SecretMask(configured_secrets()),
            structlog.stdlib.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *([add_trace_ids] if trace_ids else []),
            renderer,
        ],
    )


def add_trace_ids(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """The trace and span a line was logged in, to go from a line to its trace."""
    from opentelemetry import trace

    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        event["trace_id"] = trace.format_trace_id(span.trace_id)
        event["span_id"] = trace.format_span_id(span.span_id)
    return event


def access_fields(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """uvicorn's access line (sent within the request, so with its request id and user
    id) as fields: `request` with method, path, status and client."""
    arguments = event.pop("positional_args", ())
    if event["_record"].name == "uvicorn.access" and len(arguments) == 5:
        client, method, path, _http_version, status = arguments
        event.update(event="request", method=method, path=path, status=status, client=client)
    return event


def configure_logging(level: int | str, *, trace_ids: bool = False) -> None:
    """Route every log record of this process through the structured formatter; with
    `trace_ids` (when the process traces), each line says in which trace and span."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(json=json_lines(), trace_ids=trace_ids))
    root = logging.getLogger()
    # Others' handlers stay (pytest's, for one); an earlier call's is replaced.
    for earlier in root.handlers[:]:
        if isinstance(earlier.formatter, structlog.stdlib.ProcessorFormatter):
            root.removeHandler(earlier)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    # uvicorn gives its loggers handlers of their own: their lines go through root instead
    # (its levels stay). Its access logger without any is switched off (--no-access-log).
    for name in ("uvicorn", "uvicorn.access"):
        library_logger = logging.getLogger(name)
        if library_logger.handlers:
            library_logger.handlers = []
            library_logger.propagate = True
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
