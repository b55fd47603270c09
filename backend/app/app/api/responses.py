"""OpenAPI descriptions of the error answers routes share.

`error_responses` derives the answers a route can give from what the route is
(authenticated, superuser only, with a body), so that a new route documents them
without anyone remembering to (see `app.api.routing.ApiRoute`).
"""

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI, params
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute
from pydantic import BaseModel

Responses = dict[int | str, dict[str, Any]]


class ErrorMessage(BaseModel):
    """Every error but 422 (a list of {loc, msg, type}) is one message."""

    detail: str


# A reference rather than `model`: FastAPI files a model under the route's own media
# type, and errors are JSON also where the route answers text or a download. One named
# schema for all (`document_error_message`), so that generated clients make one class.
_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorMessage"}}}


def document_error_message(app: FastAPI) -> None:
    """Have the app's OpenAPI document define the ErrorMessage its errors refer to."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.setdefault("ErrorMessage", ErrorMessage.model_json_schema())
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _ERROR_CONTENT}


def not_found(description: str) -> Responses:
    return {404: error(description)}


def _calls(dependant: Dependant) -> Iterable[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def error_responses(
    route: APIRoute, *, authenticated: Callable[..., Any], superuser_only: Callable[..., Any]
) -> Responses:
    """The errors that a route's dependencies and body can answer."""
    calls = set(_calls(route.dependant))
    found: Responses = {}
    if authenticated in calls:
        found[401] = error("No credentials, or ones that are invalid or expired.")
    if superuser_only in calls:
        found[403] = error("Only a superuser may do this.")
    body = route.body_field
    if body is not None:
        found[413] = error("The body is larger than MAX_REQUEST_BYTES.")
        if isinstance(body.field_info, params.File):
            found[400] = error("A multipart body that does not parse.")
        elif not isinstance(body.field_info, params.Form):
            found[415] = error("The body is not `application/json`.")
    elif not get_flat_params(route.dependant):
        # FastAPI documents 422 only where a route has parameters; any route refuses a
        # NUL character in the query string.
        found[422] = {"description": "A NUL character in the query string."}
    return found
