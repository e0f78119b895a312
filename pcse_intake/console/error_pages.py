"""An unexpected failure answered with the console's own error page, inside its headers."""

from __future__ import annotations

import logging

from starlette.responses import PlainTextResponse, Response
from starlette.types import Message, Receive, Scope, Send

from pcse_intake.console.middleware import HttpMiddleware, error_page

log = logging.getLogger(__name__)

FAILED = (
    "Something went wrong on our side. Look at the page again before repeating what you did,"
    " or tell the support team."
)


class ErrorPages(HttpMiddleware):
    """Catch what no route handled, answer 500 with the error page, then let it propagate.

    Starlette's own 500 answer is sent from outside every middleware, so it would leave
    without the security headers; this one sits inside them. The exception still goes on
    to the server, which logs it with its traceback.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            if not started:
                await _failure_page(scope)(scope, receive, send)
            raise


def _failure_page(scope: Scope) -> Response:
    try:
        return error_page(scope, 500, FAILED)
    except Exception:  # the templates themselves failed: a plain page still answers
        log.exception("the error page could not be rendered")
        return PlainTextResponse(FAILED, status_code=500)
