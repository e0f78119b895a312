"""Refuse a request carrying a NUL character, or a body too large for any form, at the door."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from pcse_intake.console.middleware import HttpMiddleware, error_page

# The console's largest form (a correction or a note) is a few kilobytes.
MAX_BODY_BYTES = 1_048_576
NOT_FOUND = "There is nothing at this address."
NOT_UNDERSTOOD = "Some of what was sent could not be understood."
TOO_LARGE = "What was sent is larger than any form on this site."


class RequestGuard(HttpMiddleware):
    """No person types a NUL, and PostgreSQL cannot store or compare one: a NUL in the
    address, the query or a form would otherwise reach the database and fail there.

    A form body is read whole (up to MAX_BODY_BYTES) and handed on unchanged.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if "\x00" in scope["path"]:
            await _refuse(scope, receive, send, 404, NOT_FOUND)
            return
        if _has_nul(scope.get("query_string", b"")):
            await _refuse(scope, receive, send, 400, NOT_UNDERSTOOD)
            return
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY_BYTES:
                await _refuse(scope, receive, send, 413, TOO_LARGE)
                return
        if b"\x00" in body or (_is_form(scope) and _has_nul(bytes(body))):
            await _refuse(scope, receive, send, 400, NOT_UNDERSTOOD)
            return
        await self.app(scope, _replay(bytes(body), receive), send)


def _has_nul(data: bytes) -> bool:
    """A NUL as it is, or percent-encoded as a form or a query string carries it."""
    return b"\x00" in data or b"%00" in data


def _is_form(scope: Scope) -> bool:
    """A URL-encoded form, where "%00" is a NUL (a typed "%" arrives as "%25")."""
    content_type = Request(scope).headers.get("content-type", "")
    return content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded"


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()  # after the body: wait for the client to go, as Starlette does
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
    await error_page(scope, status, message)(scope, receive, send)
