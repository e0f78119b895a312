"""The pages after a right password: set up the account (first sign-in), or enter the code."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from starlette.responses import Response

from pcse_intake.console import csrf
from pcse_intake.console.deps import DbSession, Now, State, client_address
from pcse_intake.console.pages import local_path, render, see_other
from pcse_intake.console.second_factor import (
    CHALLENGE_MINUTES,
    Pending,
    check_sign_in_code,
    expired,
    find_challenge,
    set_up_account,
)
from pcse_intake.console.signin import Outcome, refusal
from pcse_intake.console.signin_pages import clear_cookie, finish_sign_in, sign_in_page
from pcse_intake.console.totp import grouped, qr_svg
from pcse_intake.workflows import totp
from pcse_intake.workflows.account_set_up import new_password_problems
from pcse_intake.workflows.staff import MIN_PASSWORD_LENGTH

router = APIRouter(prefix="/sign-in")

Secret = Annotated[str, Form(max_length=1000)]


def _start_again(request: Request, state: State, *, next_path: str, outcome: Outcome) -> Response:
    """Back to the password, the half-finished sign-in forgotten by the browser too."""
    status_code, message = refusal(outcome, after_password=True)
    response = sign_in_page(
        request, state, next_path=next_path, error=message, status_code=status_code
    )
    clear_cookie(response, state, state.pending_cookie)
    return response


def _other_page(pending: Pending, next_path: str) -> Response:
    page = "set-up" if pending.set_up else "code"
    return see_other(f"/sign-in/{page}?next={quote(next_path, safe='/')}")


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
    return render(request, "sign_in_code.html", context, status_code=status_code)


def _set_up_page(
    request: Request,
    pending: Pending,
    *,
    next_path: str,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context: dict[str, object] = {
        "next_path": next_path,
        "errors": errors or {},
        "csrf_token": pending.csrf_token,
        "username": pending.staff.username,
        "minutes": CHALLENGE_MINUTES,
        "new_password": pending.staff.must_change_password,
        "min_length": MIN_PASSWORD_LENGTH,
        "secret": None,
    }
    secret = pending.enrolment_secret
    if secret is not None:
        uri = totp.provisioning_uri(secret, pending.staff.username)
        context |= {"secret": grouped(secret), "uri": uri, "qr": qr_svg(uri)}
    return render(request, "sign_in_set_up.html", context, status_code=status_code)


def _pending(request: Request, state: State, session: DbSession) -> Pending | None:
    return find_challenge(session, token=request.cookies.get(state.pending_cookie))


def _refuse_forged(request: Request, pending: Pending, token: str) -> None:
    if csrf.cross_site(request) or not csrf.tokens_match(pending.csrf_token, token):
        raise HTTPException(
            status_code=403,
            detail="The form could not be checked. Go back, reload the page and try again.",
        )


@router.get("/code")
def code_form(
    request: Request, state: State, session: DbSession, moment: Now, next: str = "/"
) -> Response:
    next_path = local_path(next)
    pending = _pending(request, state, session)
    if pending is None or expired(pending, moment):
        return _start_again(request, state, next_path=next_path, outcome=Outcome.CODE_TOO_LATE)
    if pending.set_up:
        return _other_page(pending, next_path)
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
    pending = _pending(request, state, session)
    if pending is None:
        return _start_again(request, state, next_path=next_path, outcome=Outcome.CODE_TOO_LATE)
    _refuse_forged(request, pending, csrf_token)
    if not totp.normalised(code):
        # Nothing typed: say so, without counting it as a wrong code.
        return _code_page(
            request,
            pending,
            next_path=next_path,
            error="Enter the 6-digit code from your authenticator app.",
            status_code=422,
        )
    result = check_sign_in_code(
        session, pending=pending, code=code, address=client_address(request), now=moment
    )
    if result.staff is not None:
        return finish_sign_in(
            request, state, session, staff=result.staff, now=moment, next_path=next_path
        )
    if result.outcome in (Outcome.WRONG_CODE, Outcome.REPLAYED_CODE):
        status_code, message = refusal(result.outcome)
        return _code_page(
            request, pending, next_path=next_path, error=message, status_code=status_code
        )
    return _start_again(request, state, next_path=next_path, outcome=result.outcome)


@router.get("/set-up")
def set_up_form(
    request: Request, state: State, session: DbSession, moment: Now, next: str = "/"
) -> Response:
    next_path = local_path(next)
    pending = _pending(request, state, session)
    if pending is None or expired(pending, moment):
        return _start_again(request, state, next_path=next_path, outcome=Outcome.CODE_TOO_LATE)
    if not pending.set_up:
        return _other_page(pending, next_path)
    return _set_up_page(request, pending, next_path=next_path)


@router.post("/set-up")
def set_up_submit(
    request: Request,
    state: State,
    session: DbSession,
    moment: Now,
    new_password: Secret = "",
    new_password_again: Secret = "",
    code: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    next_path = local_path(next)
    pending = _pending(request, state, session)
    if pending is None:
        return _start_again(request, state, next_path=next_path, outcome=Outcome.CODE_TOO_LATE)
    _refuse_forged(request, pending, csrf_token)
    # What can be told without counting anything: the new password, an empty code box.
    errors: dict[str, str] = {}
    if pending.staff.must_change_password:
        problems = new_password_problems(pending.staff, new_password, new_password_again)
        if problems:
            errors["new_password"] = "The new password " + "; ".join(problems) + "."
    if pending.enrolment_secret is not None and not totp.normalised(code):
        errors["code"] = "Enter the 6-digit code from your authenticator app."
    if errors:
        return _set_up_page(request, pending, next_path=next_path, errors=errors, status_code=422)
    result = set_up_account(
        session,
        pending=pending,
        new_password=new_password if pending.staff.must_change_password else None,
        code=code,
        address=client_address(request),
        now=moment,
    )
    if result.staff is not None:
        return finish_sign_in(
            request, state, session, staff=result.staff, now=moment, next_path=next_path
        )
    if result.outcome in (Outcome.WRONG_CODE, Outcome.REPLAYED_CODE):
        status_code, message = refusal(result.outcome)
        return _set_up_page(
            request,
            pending,
            next_path=next_path,
            errors={"code": message},
            status_code=status_code,
        )
    return _start_again(request, state, next_path=next_path, outcome=result.outcome)
