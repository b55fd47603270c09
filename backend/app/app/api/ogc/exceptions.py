"""Errors at /ogc as the standard's exception reports (RFC 7807 problem details): the
OGC exception types where Part 1 names one, the REST API's status codes otherwise."""

from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException

from app.api.errors import STATUS_CODES, log_outage
from app.core.stored_objects import StorageUnavailable
from app.schemas.ogc import OgcException
from app.services.errors import InvalidInput, RateLimited, ServiceError
from app.services.ogc.documents import JOB_FAILED_TYPE
from app.services.ogc.errors import JobFailed, NoSuchJob, NoSuchProcess, ResultNotReady
from app.worker.redis_db.connection import RedisUnavailable

OGC_EXCEPTIONS = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0"
# Part 1's own types, with the status codes it gives them.
STANDARD_TYPES: dict[type[ServiceError], tuple[str, int]] = {
    NoSuchProcess: (f"{OGC_EXCEPTIONS}/no-such-process", 404),
    NoSuchJob: (f"{OGC_EXCEPTIONS}/no-such-job", 404),
    ResultNotReady: (f"{OGC_EXCEPTIONS}/result-not-ready", 404),
}
# What Part 1 leaves unnamed: tooljobs' own types.
INVALID_INPUT_TYPE = "urn:tooljobs:error:invalid-input"


def add_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, service_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]
    for down in (OperationalError, RedisUnavailable, StorageUnavailable):
        app.add_exception_handler(down, backing_service_down)


def problem(
    status: int,
    detail: str | None,
    *,
    type_: str = "about:blank",
    headers: dict[str, str] | None = None,
    **extra: object,
) -> JSONResponse:
    report = OgcException(type=type_, title=HTTPStatus(status).phrase, status=status, detail=detail)
    return JSONResponse(
        {**report.model_dump(exclude_none=True), **extra},
        status_code=status,
        headers=headers,
    )


def service_error(_: Request, error: ServiceError) -> JSONResponse:
    for kind in type(error).__mro__:
        if kind in STANDARD_TYPES:
            type_, status = STANDARD_TYPES[kind]
            return problem(status, error.detail, type_=type_)
    if isinstance(error, InvalidInput):
        # Part 1 answers an invalid execute request with 400; the failures say where.
        return problem(400, error.detail, type_=INVALID_INPUT_TYPE, errors=_failures(error))
    if isinstance(error, JobFailed):
        return problem(400, error.detail, type_=JOB_FAILED_TYPE, error=error.error)
    status = next(STATUS_CODES[kind] for kind in type(error).__mro__ if kind in STATUS_CODES)
    headers = None
    if isinstance(error, RateLimited):
        headers = {"Retry-After": str(error.retry_after_seconds)}
    return problem(status, error.detail, headers=headers)


def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
    # As the REST API does: the failing values are not echoed back.
    failures = [
        {"loc": list(failure["loc"]), "msg": failure["msg"], "type": failure["type"]}
        for failure in error.errors()
    ]
    detail = "; ".join(f"{'.'.join(map(str, f['loc']))}: {f['msg']}" for f in failures)
    return problem(400, detail, type_=INVALID_INPUT_TYPE, errors=failures)


def invalid_body(location: str, message: str, error_type: str) -> JSONResponse:
    """A body or query refused before any route read it (app.api.body_limits)."""
    failure = {"loc": [location], "msg": message, "type": error_type}
    return problem(400, message, type_=INVALID_INPUT_TYPE, errors=[failure])


def http_error(_: Request, error: HTTPException) -> JSONResponse:
    return problem(error.status_code, str(error.detail), headers=dict(error.headers or {}))


def backing_service_down(_: Request, error: Exception) -> JSONResponse:
    log_outage(error)
    return problem(503, "a backing service is unavailable; try again")


def _failures(error: InvalidInput) -> list[dict[str, object]]:
    return [{"loc": list(f.path), "msg": f.message, "type": f.type} for f in error.errors]
