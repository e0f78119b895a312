"""What the console's own middlewares share: they act on HTTP only, and answer with pages."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from pcse_intake.console.pages import render


class HttpMiddleware:
    """Passes anything but an HTTP request (the server's lifespan events) straight through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


def error_page(scope: Scope, status: int, message: str) -> Response:
    """The console's error page, made before or after any route has run."""
    return render(
        Request(scope), "error.html", {"status": status, "message": message}, status_code=status
    )
