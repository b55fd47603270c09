"""Errors as HTTP answers: the one place where the services' domain errors, FastAPI's
validation errors and a backing service's outage become status codes and JSON."""

import logging

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from app.api.body_limits import is_json, media_type
from app.core.config import settings
from app.core.stored_objects import StorageUnavailable
from app.services.errors import (
    Conflict,
    FieldError,
    Gone,
    InvalidInput,
    NotFound,
    RateLimited,
    ServiceError,
    TooLarge,
    Unavailable,
    UnknownReference,
)
from app.worker.redis_db.connection import RedisUnavailable

logger = logging.getLogger(__name__)

STATUS_CODES: dict[type[ServiceError], int] = {
    NotFound: 404,
    Conflict: 409,
    Gone: 410,
    TooLarge: 413,
    InvalidInput: 422,
    UnknownReference: 404,
    RateLimited: 429,
    Unavailable: 503,
}

# Where a client goes next after these refusals, added to the message.
HINTS = {
    "unknown_tool": f"GET {settings.API_V1_STR}/tools lists them",
    "file_not_found": f"upload it with POST {settings.API_V1_STR}/files",
}


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, service_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(OperationalError, backing_service_down)
    app.add_exception_handler(RedisUnavailable, backing_service_down)
    app.add_exception_handler(StorageUnavailable, backing_service_down)


def service_error(request: Request, error: ServiceError) -> JSONResponse:
    status_code = next(STATUS_CODES[kind] for kind in type(error).__mro__ if kind in STATUS_CODES)
    if isinstance(error, UnknownReference):
        # A 404's detail is text, for every 404; it names the fields.
        detail = "; ".join(
            f"{'.'.join(map(str, failure.path))}: {_message(failure)}" for failure in error.errors
        )
        return JSONResponse(status_code=status_code, content={"detail": detail})
    if isinstance(error, InvalidInput):
        # FastAPI's own shape, so that clients parse one format for every 422.
        return JSONResponse(
            status_code=status_code,
            content={"detail": [_field_error(request, failure) for failure in error.errors]},
        )
    headers = {}
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after_seconds)
    return JSONResponse(status_code=status_code, content={"detail": error.detail}, headers=headers)


def _field_error(request: Request, failure: FieldError) -> dict[str, object]:
    # A field the client sent in the query string is located there; any other in the body.
    sent_in_query = bool(failure.path) and str(failure.path[0]) in request.query_params
    return {
        "loc": ["query" if sent_in_query else "body", *failure.path],
        "msg": _message(failure),
        "type": failure.type,
    }


def _message(failure: FieldError) -> str:
    hint = HINTS.get(failure.type)
    return failure.message if hint is None else f"{failure.message}; {hint}"


def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    # FastAPI's own answer echoes each failing value as `input`, and for a missing field
    # the whole object around it: a password, a token or a tool's secret input would come
    # back in the body (and in whatever logs bodies). The field path and message suffice.
    failures = [
        {key: value for key, value in failure.items() if key != "input"}
        for failure in error.errors()
    ]
    if _body_is_not_json(request, failures):
        return JSONResponse(
            status_code=415, content={"detail": "send the body as application/json"}
        )
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(failures)})


def _body_is_not_json(request: Request, failures: list[dict[str, object]]) -> bool:
    """A JSON route was sent a body of another type (FastAPI reads it as bytes, and the
    body as a whole fails); an empty body is only a missing one."""
    if is_json(media_type(request.headers.get("content-type", ""))):
        return False
    return any(failure["loc"] == ("body",) and failure["type"] != "missing" for failure in failures)


def backing_service_down(_: Request, error: Exception) -> JSONResponse:
    # Connection details stay in the log; the client learns only what to do.
    log_outage(error)
    return JSONResponse(
        status_code=503, content={"detail": "a backing service is unavailable; try again"}
    )


def log_outage(error: Exception) -> None:
    """Why a backing service failed a request: the driver's own message (a refused
    connection, a dropped one, a server out of connection slots), which is what tells
    one outage from another. For SQL, never the statement or its parameters, which may
    carry a user's data; the log's masking (app.core.log_config) covers credentials."""
    reason = error.orig if isinstance(error, OperationalError) else error
    first_line = str(reason).strip().split("\n", 1)[0][:300]
    logger.warning("backing service unavailable: %s: %s", type(error).__name__, first_line)
