"""Staff accounts (admins only): add or change a role (a second admin confirms), disable or
enable, unlock, reset the second factor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from starlette.responses import Response

from pcse_intake.console import staff_admin
from pcse_intake.console.deps import DbSession, Post, Posted, Who, require
from pcse_intake.console.pages import render, see_other
from pcse_intake.console.permissions import Action
from pcse_intake.workflows import staff_changes
from pcse_intake.workflows.errors import WorkflowRefusal
from pcse_intake.workflows.models import StaffChangeKind, StaffRole

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
    handover: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "staff.html",
        {
            "accounts": staff_admin.list_staff(session),
            "roles": ROLES,
            "error": error,
            "form": form or {"username": "", "role": "verifier"},
            # Half of a one-time password, shown once, in this response only.
            "handover": handover,
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
) -> Response:
    """Ask for a new account; it works once a second admin confirms it. Each of the two is
    shown half of its one-time password, so neither can sign in as it alone."""
    require(ctx.who, Action.ADMINISTER)
    name = username.strip()
    try:
        with ctx.session.begin_nested():
            half = staff_changes.request_account(
                ctx.session, username=name, role=role, by=ctx.by, now=ctx.now
            )
    except WorkflowRefusal as refusal:
        return _page(
            ctx.request,
            ctx.session,
            error=f"The account was not added: {refusal}.",
            status_code=422,
            form={"username": username, "role": role},
        )
    return _page(
        ctx.request,
        ctx.session,
        handover={"username": name, "half": half, "which": "first", "step": "asked"},
    )


def _change(ctx: Posted, notice: str, change: Callable[[], object]) -> Response:
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
    """Ask for a new role; it takes effect once a second admin confirms it."""
    return _change(
        ctx,
        "role_change_requested",
        lambda: staff_changes.request_role_change(
            ctx.session, username=username, role=role, by=ctx.by, now=ctx.now
        ),
    )


@router.post("/{username}/confirm")
def staff_confirm(ctx: Post, username: str) -> Response:
    """A second admin confirms what another asked for: a new account, or a new role."""
    require(ctx.who, Action.ADMINISTER)
    try:
        with ctx.session.begin_nested():
            confirmed = staff_admin.confirm(ctx.session, username=username, by=ctx.by, now=ctx.now)
    except WorkflowRefusal as refusal:
        return _page(ctx.request, ctx.session, error=str(refusal), status_code=409)
    if confirmed.kind is StaffChangeKind.CREATED and confirmed.password_half is not None:
        return _page(
            ctx.request,
            ctx.session,
            handover={
                "username": username,
                "half": confirmed.password_half,
                "which": "second",
                "step": "confirmed",
            },
        )
    return see_other("/staff?notice=role_changed")


@router.post("/{username}/withdraw")
def staff_withdraw(ctx: Post, username: str) -> Response:
    return _change(
        ctx,
        "change_withdrawn",
        lambda: staff_changes.withdraw_change(
            ctx.session, username=username, by=ctx.by, now=ctx.now
        ),
    )


@router.post("/{username}/{change}")
def staff_access(ctx: Post, username: str, change: str) -> Response:
    """Disable, enable or unlock one account, or reset its second factor."""
    changes: dict[str, tuple[str, Callable[[], object]]] = {
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
