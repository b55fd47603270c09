"""The answer for an API path that no route takes as asked.

Without it the placeholder front end, mounted at `/`, would answer: a 404 page for an
unknown API path and, for a known path with another method, a 405 allowing only GET.
"""

from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.routing import Route, Router
from starlette.types import Receive, Scope, Send


class UnmatchedApiPath:
    """An ASGI app, not a function, so that its route takes every method. It raises, so
    that the application's own error handler words the answer."""

    def __init__(self, router: Router) -> None:
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Routes match the path below where their application is mounted.
        path = scope["path"].removeprefix(scope.get("root_path", ""))
        # Every method of every route at this path: RFC 9110 has a 405 list them all.
        allowed = sorted(
            {
                method
                # Routes of included routers, with their prefixes.
                for route in iter_route_contexts(self.router.routes)
                if route.methods and route.path_regex.fullmatch(path)
                for method in route.methods
            }
        )
        if allowed:
            raise HTTPException(405, headers={"Allow": ", ".join(allowed)})
        raise HTTPException(404)


def unmatched_api_route(router: Router, api_prefix: str) -> Route:
    return Route(f"{api_prefix}/{{path:path}}", UnmatchedApiPath(router), include_in_schema=False)
