"""The page after a right password: set up an authenticator app, or enter its code."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from starlette.responses import Response

from pcse_intake.console import csrf, totp
from pcse_intake.console.deps import DbSession, Now, State, client_address
from pcse_intake.console.pages import local_path, render
from pcse_intake.console.second_factor import (
    CHALLENGE_MINUTES,
    Pending,
    check_code,
    enrolment_secret,
    expired,
    find_challenge,
)
from pcse_intake.console.signin import CODE_LOCK_MESSAGE, REFUSALS, Outcome
from pcse_intake.console.signin_pages import clear_cookie, finish_sign_in, sign_in_page

router = APIRouter(prefix="/sign-in")


def _start_again(
    request: Request, state: State, *, next_path: str, message: str, status_code: int
) -> Response:
    """Back to the password, the half-finished sign-in forgotten by the browser too."""
    response = sign_in_page(
        request, state, next_path=next_path, error=message, status_code=status_code
    )
    clear_cookie(response, state, state.pending_cookie)
    return response


def _code_page(
    request: Request, pending: Pending, *, next_path: str, error: str | None, status_code: int
) -> Response:
    context: dict[str, object] = {
        "next_path": next_path,
        "error": error,
        "csrf_token": pending.csrf_token,
        "username": pending.staff.username,
        "minutes": CHALLENGE_MINUTES,
    }
    if pending.enrolled:
        return render(request, "sign_in_code.html", context, status_code=status_code)
    secret = enrolment_secret(pending)
    uri = totp.provisioning_uri(secret, pending.staff.username)
    context |= {"secret": totp.grouped(secret), "uri": uri, "qr": totp.qr_svg(uri)}
    return render(request, "sign_in_enrol.html", context, status_code=status_code)


@router.get("/code")
def code_form(
    request: Request, state: State, session: DbSession, moment: Now, next: str = "/"
) -> Response:
    next_path = local_path(next)
    pending = find_challenge(session, token=request.cookies.get(state.pending_cookie))
    if pending is None or expired(pending, moment):
        status_code, message = REFUSALS[Outcome.CODE_TOO_LATE]
        return _start_again(
            request, state, next_path=next_path, message=message, status_code=status_code
        )
    return _code_page(request, pending, next_path=next_path, error=None, status_code=200)


@router.post("/code")
def code_submit(
    request: Request,
    state: State,
    session: DbSession,
    moment: Now,
    code: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    next_path = local_path(next)
    pending = find_challenge(session, token=request.cookies.get(state.pending_cookie))
    if pending is None:
        status_code, message = REFUSALS[Outcome.CODE_TOO_LATE]
        return _start_again(
            request, state, next_path=next_path, message=message, status_code=status_code
        )
    if csrf.cross_site(request) or not csrf.tokens_match(pending.csrf_token, csrf_token):
        raise HTTPException(
            status_code=403,
            detail="The code form could not be checked. Go back, reload the page and try again.",
        )
    if not totp.normalised(code):
        # Nothing typed: say so, without counting it as a wrong code.
        return _code_page(
            request,
            pending,
            next_path=next_path,
            error="Enter the 6-digit code from your authenticator app.",
            status_code=422,
        )
    result = check_code(
        session, pending=pending, code=code, address=client_address(request), now=moment
    )
    if result.staff is not None:
        return finish_sign_in(
            request, state, session, staff=result.staff, now=moment, next_path=next_path
        )
    status_code, message = REFUSALS[result.outcome]
    if result.outcome in (Outcome.WRONG_CODE, Outcome.REPLAYED_CODE):
        return _code_page(
            request, pending, next_path=next_path, error=message, status_code=status_code
        )
    if result.outcome is Outcome.NOW_LOCKED:
        message = CODE_LOCK_MESSAGE
    return _start_again(
        request, state, next_path=next_path, message=message, status_code=status_code
    )
