"""One request: what was asked beside the e-mail, the checks, the call, the decision, history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from pcse_intake.console.deps import (
    DbSession,
    Post,
    Posted,
    Who,
    client_address,
    require,
    security_log,
)
from pcse_intake.console.display import field_label, flatten_fields
from pcse_intake.console.outcomes import attempt
from pcse_intake.console.pages import render, see_other
from pcse_intake.console.permissions import Action
from pcse_intake.console.session_store import SignedIn, end_sessions_of
from pcse_intake.console.signin import Outcome, reauthenticate
from pcse_intake.workflows import decisions, pending_changes
from pcse_intake.workflows.errors import RequestNotFound, WorkflowRefusal
from pcse_intake.workflows.fields import valid_paths
from pcse_intake.workflows.queries import request_detail
from pcse_intake.workflows.states import is_open

router = APIRouter(prefix="/requests")

Version = Annotated[int, Form(ge=1)]
Text = Annotated[str, Form(max_length=4000)]
OUTCOMES = ("confirmed", "no_answer", "failed")


def _page(
    request: Request,
    session: Session,
    who: SignedIn,
    ref: str,
    *,
    refusal: WorkflowRefusal | None = None,
    status_code: int = 409,
) -> Response:
    try:
        detail = request_detail(session, ref)
    except RequestNotFound as missing:
        raise HTTPException(status_code=404, detail=str(missing)) from missing
    return render(
        request,
        "request.html",
        {
            "r": detail,
            "fields": flatten_fields(detail.request),
            "describe": field_label,
            "paths": valid_paths(detail.kind) if detail.kind != "unknown" else (),
            "outcomes": OUTCOMES,
            "is_open": is_open(detail.state),
            "self_verified": detail.verified_by == who.username,
            "refusal": str(refusal) if refusal else None,
            "now": request.app.state.console.clock(),
        },
        status_code=status_code if refusal else 200,
        who=who,
    )


@router.get("/{ref}")
def show(request: Request, session: DbSession, who: Who, ref: str) -> Response:
    return _page(request, session, who, ref)


def _decide(
    ctx: Posted, ref: str, version: int, action: Action, notice: str, change: Callable[[], object]
) -> Response:
    """Check the role; refuse a form made from an older version; otherwise run the change."""
    require(ctx.who, action)
    try:
        current = decisions.load_request(ctx.session, ref, lock=False)
    except RequestNotFound as missing:
        raise HTTPException(status_code=404, detail=str(missing)) from missing
    refusal: WorkflowRefusal | None
    if current.version != version:
        # A double click, a second tab or another person got there first: look again.
        refusal = WorkflowRefusal(
            f"{current.ref} changed after this page was shown (it is now {current.state}); "
            "nothing was done: check it again"
        )
        security_log.warning(
            "refused a stale form user=%r ref=%s version=%d current=%d",
            ctx.by,
            current.ref,
            version,
            current.version,
        )
    else:
        refusal = attempt(ctx.session, change)
    if refusal is not None:
        return _page(ctx.request, ctx.session, ctx.who, ref, refusal=refusal)
    return see_other(f"/requests/{current.ref}?notice={notice}")


@router.post("/{ref}/calls")
def record_call(
    ctx: Post,
    ref: str,
    version: Version,
    outcome: Annotated[str, Form(max_length=20)] = "",
    notes: Text = "",
    phone: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    def change() -> object:
        return decisions.verify(
            ctx.session,
            ref=ref,
            by=ctx.by,
            outcome=outcome,
            now=ctx.now,
            settings=ctx.state.settings,
            phone=phone.strip() or None,
            notes=notes.strip() or None,
        )

    return _decide(ctx, ref, version, Action.VERIFY, "call_recorded", change)


@router.post("/{ref}/approve")
def approve(
    ctx: Post, ref: str, version: Version, password: Annotated[str, Form(max_length=1000)] = ""
) -> Response:
    require(ctx.who, Action.APPROVE)
    # Approval changes the records: the password is asked again, every time.
    outcome = reauthenticate(
        ctx.session,
        username=ctx.by,
        password=password,
        address=client_address(ctx.request),
        now=ctx.now,
    )
    if outcome is not Outcome.REAUTHENTICATED:
        if outcome in (Outcome.NOW_LOCKED, Outcome.LOCKED):
            end_sessions_of(ctx.session, staff_id=ctx.who.staff_id, now=ctx.now, reason="locked")
            raise HTTPException(
                status_code=403,
                detail="The password was wrong too many times: your account is locked and "
                "you have been signed out. Ask an administrator to unlock it.",
            )
        refusal = WorkflowRefusal("your password was not correct, so nothing was approved")
        return _page(ctx.request, ctx.session, ctx.who, ref, refusal=refusal, status_code=403)

    def change() -> object:
        return decisions.approve(
            ctx.session, ref=ref, by=ctx.by, now=ctx.now, settings=ctx.state.settings
        )

    return _decide(ctx, ref, version, Action.APPROVE, "approved", change)


@router.post("/{ref}/reject")
def reject(ctx: Post, ref: str, version: Version, reason: Text = "") -> Response:
    def change() -> object:
        return decisions.reject(
            ctx.session,
            ref=ref,
            by=ctx.by,
            reason=reason,
            now=ctx.now,
            settings=ctx.state.settings,
        )

    return _decide(ctx, ref, version, Action.REJECT, "rejected", change)


@router.post("/{ref}/cancel-change")
def cancel_change(ctx: Post, ref: str, version: Version, reason: Text = "") -> Response:
    """Stop an approved e-mail change in its cooling-off period (an approver)."""

    def change() -> object:
        return pending_changes.cancel_change(
            ctx.session,
            ref=ref,
            by=ctx.by,
            reason=reason,
            now=ctx.now,
            settings=ctx.state.settings,
        )

    return _decide(ctx, ref, version, Action.APPROVE, "change_cancelled", change)


@router.post("/{ref}/corrections")
def correct(
    ctx: Post,
    ref: str,
    version: Version,
    path: Annotated[str, Form(max_length=100)],
    value: Text = "",
    note: Text = "",
) -> Response:
    def change() -> object:
        return decisions.correct_field(
            ctx.session,
            ref=ref,
            by=ctx.by,
            path=path,
            value=value.strip() or None,
            now=ctx.now,
            note=note.strip() or None,
            settings=ctx.state.settings,
        )

    return _decide(ctx, ref, version, Action.CORRECT, "corrected", change)
