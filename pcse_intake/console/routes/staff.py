"""Staff accounts (admins only): add, change role, disable or enable, unlock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from starlette.responses import Response

from pcse_intake.console import staff_admin
from pcse_intake.console.deps import DbSession, Now, Poster, Who, require
from pcse_intake.console.pages import render, see_other
from pcse_intake.console.permissions import Action
from pcse_intake.workflows import staff as staff_accounts
from pcse_intake.workflows.errors import WorkflowRefusal
from pcse_intake.workflows.models import StaffRole

router = APIRouter(prefix="/staff")

ROLES = tuple(r.value for r in StaffRole)
Username = Annotated[str, Form(max_length=100)]


def _page(
    request: Request,
    session: DbSession,
    *,
    error: str | None = None,
    status_code: int = 200,
    form: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "staff.html",
        {
            "accounts": staff_admin.list_staff(session),
            "roles": ROLES,
            "error": error,
            "form": form or {"username": "", "role": "verifier"},
        },
        status_code=status_code,
    )


@router.get("")
def staff_list(request: Request, session: DbSession, who: Who) -> Response:
    require(who, Action.ADMINISTER)
    return _page(request, session)


@router.post("")
def staff_add(
    request: Request,
    session: DbSession,
    moment: Now,
    who: Poster,
    username: Username,
    role: Annotated[str, Form(max_length=20)],
    password: Annotated[str, Form(max_length=1000)],
) -> Response:
    require(who, Action.ADMINISTER)
    problems = staff_accounts.check_password_rule(password)
    if role not in ROLES:
        problems = [f"{role!r} is not a role", *problems]
    if not problems:
        try:
            staff_accounts.create_staff(
                session,
                username=username.strip(),
                role=StaffRole(role),
                password=password,
                now=moment,
                by=who.username,
            )
        except WorkflowRefusal as refusal:
            problems = [str(refusal)]
    if problems:
        return _page(
            request,
            session,
            error="; ".join(problems),
            status_code=422,
            form={"username": username, "role": role},
        )
    return see_other("/staff?notice=staff_added")


def _change(
    request: Request, session: DbSession, notice: str, change: Callable[[], None]
) -> Response:
    """Run one account change; a refusal re-shows the page with its plain-English reason."""
    try:
        change()
    except WorkflowRefusal as refusal:
        return _page(request, session, error=str(refusal), status_code=409)
    return see_other(f"/staff?notice={notice}")


@router.post("/{username}/role")
def staff_role(
    request: Request,
    session: DbSession,
    moment: Now,
    who: Poster,
    username: str,
    role: Annotated[str, Form(max_length=20)],
) -> Response:
    require(who, Action.ADMINISTER)
    return _change(
        request,
        session,
        "role_changed",
        lambda: staff_admin.change_role(
            session, username=username, role=role, by=who.username, now=moment
        ),
    )


@router.post("/{username}/{change}")
def staff_access(
    request: Request, session: DbSession, moment: Now, who: Poster, username: str, change: str
) -> Response:
    """Disable, enable or unlock one account."""
    require(who, Action.ADMINISTER)
    changes: dict[str, Callable[[], None]] = {
        "disable": lambda: staff_admin.set_disabled(
            session, username=username, disabled=True, by=who.username, now=moment
        ),
        "enable": lambda: staff_admin.set_disabled(
            session, username=username, disabled=False, by=who.username, now=moment
        ),
        "unlock": lambda: staff_admin.unlock(
            session, username=username, by=who.username, now=moment
        ),
    }
    if change not in changes:
        raise HTTPException(status_code=404)
    notice = {"disable": "disabled", "enable": "enabled", "unlock": "unlocked"}[change]
    return _change(request, session, notice, changes[change])
