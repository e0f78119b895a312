"""Sign in (the password, then the code or the first sign-in's set-up) and sign out."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from starlette.responses import Response

from pcse_intake.console import csrf
from pcse_intake.console.deps import DbSession, Now, Poster, State, client_address
from pcse_intake.console.pages import local_path, see_other
from pcse_intake.console.routes import second_factor as second_factor_routes
from pcse_intake.console.second_factor import start_challenge
from pcse_intake.console.session_store import end_session
from pcse_intake.console.signin import Outcome, check_password, refusal
from pcse_intake.console.signin_pages import (
    clear_cookie,
    finish_sign_in,
    set_cookie,
    sign_in_page,
)
from pcse_intake.workflows.authentication import needs_set_up

router = APIRouter()
router.include_router(second_factor_routes.router)


@router.get("/sign-in")
def sign_in_form(request: Request, state: State, next: str = "/") -> Response:
    return sign_in_page(request, state, next_path=local_path(next), error=None, status_code=200)


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
    address = client_address(request)
    result = check_password(
        session,
        username=username,
        password=password,
        address=address,
        now=moment,
        second_factor=state.second_factor,
    )
    next_path = local_path(next)
    if result.staff is None:
        status_code, message = refusal(result.outcome)
        return sign_in_page(
            request, state, next_path=next_path, error=message, status_code=status_code
        )
    if result.outcome is Outcome.PASSWORD_ACCEPTED:
        # Half signed in: a challenge of its own (not a session) until the code is entered,
        # or, at the first sign-in, until the account is set up.
        set_up = needs_set_up(result.staff, second_factor=state.second_factor)
        token = start_challenge(
            session,
            staff=result.staff,
            address=address,
            now=moment,
            set_up=set_up,
            second_factor=state.second_factor,
        )
        page = "set-up" if set_up else "code"
        response = see_other(f"/sign-in/{page}?next={quote(next_path, safe='/')}")
        set_cookie(response, state, state.pending_cookie, token)
        clear_cookie(response, state, state.signin_cookie)
        return response
    return finish_sign_in(
        request, state, session, staff=result.staff, now=moment, next_path=next_path
    )


@router.post("/sign-out")
def sign_out(
    request: Request, state: State, session: DbSession, moment: Now, _who: Poster
) -> Response:
    end_session(
        session, token=request.cookies.get(state.session_cookie), now=moment, reason="signed_out"
    )
    response = see_other("/sign-in?notice=signed_out")
    clear_cookie(response, state, state.session_cookie)
    return response
