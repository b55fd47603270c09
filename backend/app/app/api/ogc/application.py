"""The OGC face as its own application under /ogc: its exception reports and its OpenAPI
3.0 document (`/ogc/api`, Swagger UI at `/ogc/api.html`) stay apart from the REST API's."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.api.body_limits import BodyLimits
from app.api.ogc.exceptions import add_exception_handlers, invalid_body, problem
from app.api.ogc.routes import router
from app.api.unmatched import unmatched_api_route
from app.core.config import settings

OPENAPI_VERSION = "3.0.3"
EXCEPTION_SCHEMA = {"$ref": "#/components/schemas/OgcException"}


def ogc_application() -> FastAPI:
    app = FastAPI(
        title=f"{settings.PROJECT_NAME}: OGC API - Processes",
        description="OGC API - Processes - Part 1: Core 1.0 over tooljobs' tools and jobs.",
        openapi_url="/api",
        docs_url="/api.html",
        redoc_url=None,
        generate_unique_id_function=lambda route: f"ogc-{route.name.replace('_', '-')}",
    )
    add_exception_handlers(app)
    app.include_router(router)
    app.router.routes.append(unmatched_api_route(app.router, ""))
    # The REST API's bounds on a body, for every request here (nothing here is an upload).
    app.add_middleware(
        BodyLimits,
        api_prefix="",
        upload_path="",
        max_upload_bytes=settings.MAX_UPLOAD_BYTES,
        max_request_bytes=settings.MAX_REQUEST_BYTES,
        max_json_depth=settings.MAX_JSON_DEPTH,
        invalid=invalid_body,
        too_large=lambda detail: problem(413, detail),
    )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = {
                **as_openapi_30(_invalid_request_as_400(document)),
                "openapi": OPENAPI_VERSION,
            }
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def as_openapi_30(value: Any) -> Any:
    """The JSON Schema 2020-12 spellings FastAPI writes, in OpenAPI 3.0's dialect:
    `anyOf` with a null branch becomes `nullable`, `const` a one-value `enum`, numeric
    `exclusiveMinimum`/`exclusiveMaximum` the 3.0 booleans, `examples` one `example`."""
    if isinstance(value, list):
        return [as_openapi_30(item) for item in value]
    if not isinstance(value, dict):
        return value
    # The null branch is found before the branches are converted, which would make it
    # `{"nullable": true}`: a schema that takes anything.
    branches = value.get("anyOf")
    if isinstance(branches, list) and {"type": "null"} in branches:
        rest = [branch for branch in branches if branch != {"type": "null"}]
        value = {key: item for key, item in value.items() if key != "anyOf"}
        value["nullable"] = True
        if len(rest) == 1:
            value = {**rest[0], **value} if "$ref" not in rest[0] else {"allOf": rest, **value}
        else:
            value["anyOf"] = rest
    converted = {key: as_openapi_30(item) for key, item in value.items()}
    if converted.get("type") == "null":
        del converted["type"]
        converted["nullable"] = True
    if "const" in converted:
        converted["enum"] = [converted.pop("const")]
    for bound, inclusive in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(converted.get(bound), int | float) and not isinstance(converted[bound], bool):
            converted[inclusive] = converted[bound]
            converted[bound] = True
    if isinstance(converted.get("examples"), list) and converted["examples"]:
        converted["example"] = converted.pop("examples")[0]
    return converted


def _invalid_request_as_400(document: dict[str, Any]) -> dict[str, Any]:
    """FastAPI documents a request that fails validation as 422; here it is a 400."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if responses.pop("422", None) is not None:
                responses.setdefault(
                    "400",
                    {
                        "description": "An invalid request; `errors` names each field.",
                        "content": {"application/json": {"schema": EXCEPTION_SCHEMA}},
                    },
                )
    return document
