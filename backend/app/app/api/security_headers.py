"""Security headers on every answer.

A pure ASGI middleware: it only adds headers to the start message, where Starlette's
BaseHTTPMiddleware would run every request through an extra task and stream copy.
Headers an endpoint set itself are kept.
"""

from collections.abc import Callable, Collection

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# An API answer is data, never a page (even an artifact that is HTML): it loads nothing
# and is framed nowhere.
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# The jobs page (frontend-placeholder/): its own script modules and style sheet (files
# of this origin: no inline script or style, no eval), calls to the API it is served
# with, nothing from elsewhere. Its forms are sent by its script, never by the browser.
# deploy/nginx/frontend.conf sends the same policy in compose.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def page_policy(store_origin: str | None) -> str:
    """PAGE_POLICY, and the object store's origin in connect-src when downloads answer 307
    to a presigned URL there: the page's fetch of an artifact follows the redirect."""
    if store_origin is None:
        return PAGE_POLICY
    return PAGE_POLICY.replace("connect-src 'self'", f"connect-src 'self' {store_origin}")


# Swagger UI and ReDoc as FastAPI serves them: their scripts and styles from jsDelivr,
# an inline script that starts them, ReDoc's fonts and search worker, and calls back
# to this API (the OpenAPI document, "Try it out", the login form).
DOCS_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
    "https://cdn.redoc.ly; worker-src blob:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)

ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
CREDENTIALS = (b"authorization", b"x-api-key")


class SecurityHeaders:
    def __init__(
        self,
        app: ASGIApp,
        *,
        api_prefix: str,
        docs_paths: Collection[str],
        store_origin: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.app = app
        self.api_prefix = api_prefix
        self.docs_paths = frozenset(docs_paths)
        self.store_origin = store_origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # An answer to a request with credentials is someone's own data: no cache keeps it.
        authenticated = any(name in CREDENTIALS for name, _ in scope["headers"])
        path: str = scope["path"]
        docs = path in self.docs_paths
        api = path.startswith(self.api_prefix)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    headers.setdefault(name, value)
                headers.setdefault("Content-Security-Policy", self._policy(headers, docs, api))
                if authenticated:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _policy(self, headers: Headers, docs: bool, api: bool) -> str:
        if docs:
            return DOCS_POLICY
        if not api and headers.get("content-type", "").startswith("text/html"):
            return page_policy(self.store_origin())
        return API_POLICY
