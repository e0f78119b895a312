"""Staff accounts (admins only): add, change role, disable or enable, unlock, reset the second
factor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from starlette.responses import Response

from pcse_intake.console import staff_admin
from pcse_intake.console.deps import DbSession, Post, Posted, Who, require
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
    ctx: Post,
    username: Username,
    role: Annotated[str, Form(max_length=20)],
    password: Annotated[str, Form(max_length=1000)],
) -> Response:
    require(ctx.who, Action.ADMINISTER)
    error: str | None = None
    if role not in ROLES:
        error = f"{role!r} is not a role"
    else:
        try:
            with ctx.session.begin_nested():
                staff_accounts.create_staff(
                    ctx.session,
                    username=username.strip(),
                    role=StaffRole(role),
                    password=password,
                    now=ctx.now,
                    by=ctx.by,
                )
        except WorkflowRefusal as refusal:
            error = str(refusal)
    if error is not None:
        return _page(
            ctx.request,
            ctx.session,
            error=f"The account was not added: {error}.",
            status_code=422,
            form={"username": username, "role": role},
        )
    return see_other("/staff?notice=staff_added")


def _change(ctx: Posted, notice: str, change: Callable[[], None]) -> Response:
    """Run one account change; a refusal re-shows the page with its plain-English reason."""
    require(ctx.who, Action.ADMINISTER)
    try:
        with ctx.session.begin_nested():
            change()
    except WorkflowRefusal as refusal:
        return _page(ctx.request, ctx.session, error=str(refusal), status_code=409)
    return see_other(f"/staff?notice={notice}")


@router.post("/{username}/role")
def staff_role(ctx: Post, username: str, role: Annotated[str, Form(max_length=20)]) -> Response:
    return _change(
        ctx,
        "role_changed",
        lambda: staff_admin.change_role(
            ctx.session, username=username, role=role, by=ctx.by, now=ctx.now
        ),
    )


@router.post("/{username}/{change}")
def staff_access(ctx: Post, username: str, change: str) -> Response:
    """Disable, enable or unlock one account, or reset its second factor."""
    changes: dict[str, tuple[str, Callable[[], None]]] = {
        "disable": (
            "disabled",
            lambda: staff_admin.set_disabled(
                ctx.session, username=username, disabled=True, by=ctx.by, now=ctx.now
            ),
        ),
        "enable": (
            "enabled",
            lambda: staff_admin.set_disabled(
                ctx.session, username=username, disabled=False, by=ctx.by, now=ctx.now
            ),
        ),
        "unlock": (
            "unlocked",
            lambda: staff_admin.unlock(ctx.session, username=username, by=ctx.by, now=ctx.now),
        ),
        "reset-second-factor": (
            "second_factor_reset",
            lambda: staff_admin.reset_second_factor(
                ctx.session, username=username, by=ctx.by, now=ctx.now
            ),
        ),
    }
    if change not in changes:
        raise HTTPException(status_code=404)
    notice, run = changes[change]
    return _change(ctx, notice, run)
