"""What the sign-in pages share: the password form, the cookies, and finishing a sign-in."""

from __future__ import annotations

from datetime import datetime

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from pcse_intake.console.deps import ConsoleState, client_address
from pcse_intake.console.pages import local_path, render, see_other
from pcse_intake.console.session_store import end_session, new_token, start_session
from pcse_intake.workflows.models import Staff


def sign_in_page(
    request: Request, state: ConsoleState, *, next_path: str, error: str | None, status_code: int
) -> Response:
    # Login CSRF: a random value in a cookie that the form must echo back (double submit).
    token = new_token()
    response = render(
        request,
        "sign_in.html",
        {"next_path": next_path, "error": error, "signin_token": token},
        status_code=status_code,
    )
    set_cookie(response, state, state.signin_cookie, token)
    return response


def set_cookie(response: Response, state: ConsoleState, name: str, value: str) -> None:
    """HttpOnly, SameSite=Lax, path /, and Secure unless configured off for loopback HTTP."""
    response.set_cookie(
        name,
        value,
        httponly=True,
        secure=state.settings.console.secure_cookies,
        samesite="lax",
        path="/",
    )


def clear_cookie(response: Response, state: ConsoleState, name: str) -> None:
    # With the same attributes it was set with: a browser ignores a __Host- cookie (even an
    # expired one) that is not Secure.
    response.delete_cookie(
        name, path="/", secure=state.settings.console.secure_cookies, httponly=True, samesite="lax"
    )


def finish_sign_in(
    request: Request,
    state: ConsoleState,
    session: Session,
    *,
    staff: Staff,
    now: datetime,
    next_path: str,
) -> Response:
    """Start the session and go on to `next_path`; the half-way cookies are cleared."""
    # A brand-new session id at every sign-in (no fixation); any session the browser held ends.
    end_session(
        session, token=request.cookies.get(state.session_cookie), now=now, reason="replaced"
    )
    token = start_session(session, staff=staff, address=client_address(request), now=now)
    response = see_other(local_path(next_path))
    set_cookie(response, state, state.session_cookie, token)
    clear_cookie(response, state, state.signin_cookie)
    clear_cookie(response, state, state.pending_cookie)
    return response
