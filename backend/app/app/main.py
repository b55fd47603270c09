"""The FastAPI application."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError

from app.api import metrics
from app.api.api_v1.api import api_router
from app.api.body_limits import BodyLimits, is_json, media_type
from app.api.security_headers import SecurityHeaders
from app.api.unmatched import unmatched_api_route
from app.core.config import settings
from app.services import job_events, process_cache
from app.services.errors import ServiceError
from app.services.redis_follower import RedisFollower
from app.worker import redis_db

logger = logging.getLogger(__name__)

# The placeholder front end, served by the API in development (nginx serves it in compose).
FRONTEND_DIR = Path(__file__).resolve().parents[3] / "frontend-placeholder"


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    follower = RedisFollower(
        {
            redis_db.INVALIDATIONS_CHANNEL: process_cache.drop_invalidated,
            redis_db.JOB_CHANNELS_PATTERN: job_events.deliver,
        },
        on_follow=process_cache.follow,
    )
    follower.start()
    yield
    follower.stop()


app = FastAPI(
    title=settings.PROJECT_NAME,
    lifespan=lifespan,
    description="Run long tools as REST jobs: submit, poll, stream, cancel, download.",
    openapi_url=f"{settings.API_V1_STR}/openapi.json",
)
app.include_router(api_router, prefix=settings.API_V1_STR)
app.include_router(metrics.router)
# After every API route, before the front end's mount at `/`.
app.router.routes.append(unmatched_api_route(app.router, settings.API_V1_STR))
app.add_middleware(
    BodyLimits,
    api_prefix=settings.API_V1_STR,
    upload_path=f"{settings.API_V1_STR}/files",
    max_upload_bytes=settings.MAX_UPLOAD_BYTES,
    max_request_bytes=settings.MAX_REQUEST_BYTES,
    max_json_depth=settings.MAX_JSON_DEPTH,
)
if settings.cors_origins:
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["*"],
        allow_headers=["*"],
        # Tokens and API keys travel in headers, never in cookies.
        allow_credentials=False,
        expose_headers=["Location", "ETag", "Retry-After", "X-Next-Offset"],
    )
# Added last, so outermost: CORS preflights and early refusals carry the headers too.
app.add_middleware(
    SecurityHeaders,
    api_prefix=settings.API_V1_STR,
    docs_paths=[
        path
        for path in (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url)
        if path is not None
    ],
)


@app.exception_handler(ServiceError)
def service_error(_: Request, error: ServiceError) -> JSONResponse:
    return JSONResponse(
        status_code=error.status_code, content={"detail": error.detail}, headers=error.headers
    )


@app.exception_handler(RequestValidationError)
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


def _body_is_not_json(request: Request, failures: list[dict[str, Any]]) -> bool:
    """A JSON route was sent a body of another type (FastAPI reads it as bytes, and the
    body as a whole fails); an empty body is only a missing one."""
    if is_json(media_type(request.headers.get("content-type", ""))):
        return False
    return any(
        tuple(failure["loc"]) == ("body",) and failure["type"] != "missing" for failure in failures
    )


@app.exception_handler(OperationalError)
@app.exception_handler(redis.ConnectionError)
def backing_service_down(_: Request, error: Exception) -> JSONResponse:
    # Connection details stay in the log; the client learns only what to do.
    logger.warning("backing service unavailable: %s", type(error).__name__)
    return JSONResponse(
        status_code=503, content={"detail": "a backing service is unavailable; try again"}
    )


if FRONTEND_DIR.is_dir():
    app.mount("/", StaticFiles(directory=FRONTEND_DIR, html=True), name="frontend")
