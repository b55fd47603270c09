"""The FastAPI application."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from app.api import metrics
from app.api.api_v1.api import api_router
from app.api.body_limits import BodyLimits
from app.api.errors import add_error_handlers
from app.api.ogc.application import ogc_application
from app.api.request_context import RequestContext
from app.api.responses import document_error_message
from app.api.routing import operation_id
from app.api.security_headers import SecurityHeaders
from app.api.stated_constraints import state_enforced_constraints
from app.api.tus import EXPOSED_HEADERS as TUS_HEADERS
from app.api.tus import TusVersion
from app.api.unmatched import unmatched_api_route
from app.core import telemetry
from app.core.config import settings
from app.core.log_config import configure_logging
from app.db.session import autocommit_engine, engine
from app.services import downloads, process_cache
from app.services.use_cases import job_waiting
from app.tools.registry import log_broken_tools, tools_by_name
from app.worker.redis_db.follower import RedisFollower

tracing = telemetry.start_tracing("tooljobs-api", engine, autocommit_engine)
configure_logging(settings.LOG_LEVEL, trace_ids=tracing)

# The placeholder front end, served by the API in development (nginx serves it in compose).
FRONTEND_DIR = Path(__file__).resolve().parents[3] / "frontend-placeholder"


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    log_broken_tools()
    follower = RedisFollower(
        on_job_message=job_waiting.deliver,
        on_job_followed=job_waiting.followed,
        on_invalidation=process_cache.drop_invalidated,
        on_follow=process_cache.follow,
    )
    follower.start()
    job_waiting.follow_jobs_through(follower)
    yield
    job_waiting.follow_jobs_through(None)
    follower.stop()


app = FastAPI(
    title=settings.PROJECT_NAME,
    lifespan=lifespan,
    description="Run long tools as REST jobs: submit, poll, stream, cancel, download.",
    openapi_url=f"{settings.API_V1_STR}/openapi.json",
    generate_unique_id_function=operation_id,
)
add_error_handlers(app)
document_error_message(app)
state_enforced_constraints(app, tools_by_name)
app.include_router(api_router, prefix=settings.API_V1_STR)
app.include_router(metrics.router)
ogc = ogc_application()
app.mount("/ogc", ogc)
# After every API route, before the front end's mount at `/`.
app.router.routes.append(unmatched_api_route(app.router, settings.API_V1_STR))
app.add_middleware(
    BodyLimits,
    api_prefix=settings.API_V1_STR,
    upload_path=f"{settings.API_V1_STR}/files",
    resumable_upload_path=f"{settings.API_V1_STR}/uploads",
    max_upload_bytes=settings.MAX_UPLOAD_BYTES,
    max_request_bytes=settings.MAX_REQUEST_BYTES,
    max_json_depth=settings.MAX_JSON_DEPTH,
)
# Outside the body limits, so that even their refusals carry the tus version.
app.add_middleware(TusVersion, path=f"{settings.API_V1_STR}/uploads")
if settings.cors_origins:
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["*"],
        allow_headers=["*"],
        # Tokens and API keys travel in headers, never in cookies.
        allow_credentials=False,
        expose_headers=[
            *["Location", "ETag", "Retry-After", "X-Next-Offset", "X-Request-ID"],
            *TUS_HEADERS,
        ],
    )
# Outside CORS and the body limits: preflights and early refusals carry the headers too.
app.add_middleware(
    SecurityHeaders,
    api_prefix=settings.API_V1_STR,
    docs_paths=[
        *(
            path
            for path in (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url)
            if path is not None
        ),
        f"/ogc{ogc.docs_url}",
    ],
    store_origin=downloads.store_origin,
)

# Outermost: every answer, refusals too, carries the request id and is logged.
app.add_middleware(RequestContext)


if FRONTEND_DIR.is_dir():
    app.mount("/", StaticFiles(directory=FRONTEND_DIR, html=True), name="frontend")
