"""The console's application factory: nothing is created at import time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from pcse_intake.config import Settings
from pcse_intake.console.deps import ConsoleState
from pcse_intake.console.error_pages import ErrorPages
from pcse_intake.console.pages import render
from pcse_intake.console.request_guard import NOT_FOUND, RequestGuard
from pcse_intake.console.routes import auth, queue, requests, staff, triage
from pcse_intake.console.security_headers import SecurityHeaders
from pcse_intake.console.templating import make_templates
from pcse_intake.workflows.models import utcnow

STATIC = Path(__file__).resolve().parent / "static"


def create_app(
    settings: Settings,
    sessions: sessionmaker[Session],
    *,
    clock: Callable[[], datetime] = utcnow,
) -> FastAPI:
    """The staff console as an ASGI app, on the given settings and database sessions."""
    app = FastAPI(
        title="PCSE intake console",
        docs_url=None,  # no API explorer: this is a server-rendered site for staff
        redoc_url=None,
        openapi_url=None,
    )
    app.state.console = ConsoleState(settings=settings, sessions=sessions, clock=clock)
    app.state.templates = make_templates()
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (auth, queue, requests, triage, staff):
        app.include_router(module.router)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_input)
    # The last added runs first: the headers wrap every answer, the error page included.
    app.add_middleware(RequestGuard)
    app.add_middleware(ErrorPages)
    app.add_middleware(SecurityHeaders, https=settings.console.secure_cookies)
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    template = "sign_in_needed.html" if exc.status_code == 401 else "error.html"
    response = render(
        request,
        template,
        {"status": exc.status_code, "message": _message(exc)},
        status_code=exc.status_code,
    )
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _invalid_input(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if any(error.get("loc", ("",))[0] == "path" for error in exc.errors()):
        # An id out of range or of the wrong shape names no page: as any unknown address.
        return render(request, "error.html", {"status": 404, "message": NOT_FOUND}, status_code=404)
    return render(
        request,
        "error.html",
        {"status": 400, "message": "Some of what was sent could not be understood."},
        status_code=400,
    )


def _message(exc: StarletteHTTPException) -> str:
    if exc.status_code == 404:
        return NOT_FOUND
    if exc.status_code == 405:
        return "This address does not accept that kind of request."
    return str(exc.detail)
