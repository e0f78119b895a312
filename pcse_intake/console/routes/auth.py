"""Sign in and sign out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from starlette.responses import Response

from pcse_intake.console import csrf
from pcse_intake.console.deps import DbSession, Now, Poster, State, client_address
from pcse_intake.console.pages import local_path, render, see_other
from pcse_intake.console.session_store import end_session, new_token, start_session
from pcse_intake.console.signin import LOCK_AFTER_FAILURES, Outcome, sign_in

router = APIRouter()

_REFUSALS: dict[Outcome, tuple[int, str]] = {
    Outcome.WRONG_PASSWORD: (401, "The username or password is not correct."),
    Outcome.UNKNOWN_USER: (401, "The username or password is not correct."),
    Outcome.DISABLED: (401, "The username or password is not correct."),
    Outcome.NOW_LOCKED: (
        403,
        f"The password was wrong {LOCK_AFTER_FAILURES} times in a row, so the account is "
        "now locked. Ask an administrator to unlock it.",
    ),
    Outcome.LOCKED: (403, "This account is locked. Ask an administrator to unlock it."),
    Outcome.THROTTLED: (
        429,
        "There have been too many failed sign-ins from your network. Wait 15 minutes, "
        "then try again.",
    ),
}


def _sign_in_page(
    request: Request, state: State, *, next_path: str, error: str | None, status_code: int
) -> Response:
    # Login CSRF: a random value in a cookie that the form must echo back (double submit).
    token = new_token()
    response = render(
        request,
        "sign_in.html",
        {"next_path": next_path, "error": error, "signin_token": token},
        status_code=status_code,
    )
    _set_cookie(response, state, state.signin_cookie, token)
    return response


def _set_cookie(response: Response, state: State, name: str, value: str) -> None:
    """HttpOnly, SameSite=Lax, path /, and Secure unless configured off for loopback HTTP."""
    response.set_cookie(
        name,
        value,
        httponly=True,
        secure=state.settings.console.secure_cookies,
        samesite="lax",
        path="/",
    )


def _clear_cookie(response: Response, state: State, name: str) -> None:
    # With the same attributes it was set with: a browser ignores a __Host- cookie (even an
    # expired one) that is not Secure.
    response.delete_cookie(
        name, path="/", secure=state.settings.console.secure_cookies, httponly=True, samesite="lax"
    )


@router.get("/sign-in")
def sign_in_form(request: Request, state: State, next: str = "/") -> Response:
    return _sign_in_page(request, state, next_path=local_path(next), error=None, status_code=200)


@router.post("/sign-in")
def sign_in_submit(
    request: Request,
    state: State,
    session: DbSession,
    moment: Now,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    signin_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    if csrf.cross_site(request) or not csrf.tokens_match(
        request.cookies.get(state.signin_cookie), signin_token
    ):
        raise HTTPException(
            status_code=403,
            detail="The sign-in form could not be checked. Reload the page and try again.",
        )
    result = sign_in(
        session,
        username=username,
        password=password,
        address=client_address(request),
        now=moment,
    )
    if result.staff is None:
        status_code, message = _REFUSALS[result.outcome]
        return _sign_in_page(
            request, state, next_path=local_path(next), error=message, status_code=status_code
        )
    # A brand-new session id at every sign-in (no fixation); any session the browser held ends.
    end_session(
        session, token=request.cookies.get(state.session_cookie), now=moment, reason="replaced"
    )
    token = start_session(session, staff=result.staff, address=client_address(request), now=moment)
    response = see_other(local_path(next))
    _set_cookie(response, state, state.session_cookie, token)
    _clear_cookie(response, state, state.signin_cookie)
    return response


@router.post("/sign-out")
def sign_out(
    request: Request, state: State, session: DbSession, moment: Now, _who: Poster
) -> Response:
    end_session(
        session, token=request.cookies.get(state.session_cookie), now=moment, reason="signed_out"
    )
    response = see_other("/sign-in?notice=signed_out")
    _clear_cookie(response, state, state.session_cookie)
    return response
