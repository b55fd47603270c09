"""Refuse an upload whose declared size passes MAX_UPLOAD_BYTES before reading any of it."""

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.services.files import too_large_detail

# Room for the multipart boundaries and part headers around the file itself.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class UploadSizeLimit:
    def __init__(self, app: ASGIApp, *, path: str, max_bytes: int) -> None:
        self.app = app
        self.path = path
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.path:
            declared = dict(scope["headers"]).get(b"content-length", b"")
            if declared.isdigit() and int(declared) > self.max_bytes + MULTIPART_OVERHEAD_BYTES:
                detail = too_large_detail(self.max_bytes)
                response = JSONResponse(status_code=413, content={"detail": detail})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
