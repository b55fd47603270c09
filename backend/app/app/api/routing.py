"""The route class of every API router, which documents the errors a route can answer,
and the operation ids that generated clients name their functions after."""

from typing import Any

from fastapi.routing import APIRoute

from app.api.deps import get_current_principal, get_current_superuser
from app.api.responses import error_responses


class ApiRoute(APIRoute):
    def __init__(self, path: str, endpoint: Any, **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        # What a route depends on and reads is known only once it is built. What the
        # route declares itself wins (the upload's 413 names MAX_UPLOAD_BYTES).
        found = error_responses(
            self, authenticated=get_current_principal, superuser_only=get_current_superuser
        )
        self.responses = {**found, **self.responses}


def tool_submit_operation_id(tool_name: str) -> str:
    """The id of `POST /tools/{name}/jobs`, whose body types the tool's inputs."""
    return f"tools-submit-{tool_name}-job"


def operation_id(route: APIRoute) -> str:
    """`<tag>-<route name>`, dashed (`jobs-submit-job`): short names in generated
    clients, unique because route names are unique within a tag."""
    tag = str(route.tags[0]) if route.tags else "api"
    return f"{tag}-{route.name}".replace(" ", "-").replace("_", "-")
