"""Triage: messages that are not requests (unknown, automated, quarantined) and their actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from pcse_intake.console.deps import DbSession, Now, Post, Posted, Who, require
from pcse_intake.console.outcomes import attempt
from pcse_intake.console.pages import render, see_other
from pcse_intake.console.permissions import Action
from pcse_intake.parsers import RequestKind
from pcse_intake.workflows import triage
from pcse_intake.workflows.errors import WorkflowRefusal
from pcse_intake.workflows.models import MAX_ROW_ID
from pcse_intake.workflows.queue import TRIAGE_STATUSES, triage_item, triage_page

router = APIRouter(prefix="/triage")

KINDS = tuple(k.value for k in RequestKind if k is not RequestKind.UNKNOWN)
# An id no row can have is refused as "nothing at this address" before any query runs.
MessageId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


@router.get("")
def triage_list(
    request: Request,
    session: DbSession,
    moment: Now,
    _who: Who,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    return render(
        request, "triage.html", {"result": triage_page(session, page=page), "now": moment}
    )


def _item_page(
    request: Request,
    session: Session,
    message_id: int,
    *,
    refusal: WorkflowRefusal | None = None,
) -> Response:
    item = triage_item(session, message_id)
    if item is None:
        raise HTTPException(status_code=404, detail=f"There is no stored message {message_id}.")
    return render(
        request,
        "triage_item.html",
        {
            "m": item,
            "kinds": KINDS,
            "actionable": item.status in TRIAGE_STATUSES,
            "refusal": str(refusal) if refusal else None,
            "now": request.app.state.console.clock(),
        },
        status_code=409 if refusal else 200,
    )


@router.get("/{message_id}")
def triage_show(request: Request, session: DbSession, _who: Who, message_id: MessageId) -> Response:
    return _item_page(request, session, message_id)


def _act(
    ctx: Posted, message_id: int, change: Callable[[], object], done: Callable[[], str]
) -> Response:
    require(ctx.who, Action.TRIAGE)
    refusal = attempt(ctx.session, change)
    if refusal is not None:
        return _item_page(ctx.request, ctx.session, message_id, refusal=refusal)
    return see_other(done())


@router.post("/{message_id}/dismiss")
def dismiss(
    ctx: Post, message_id: MessageId, note: Annotated[str, Form(max_length=4000)] = ""
) -> Response:
    def change() -> object:
        triage.dismiss_message(
            ctx.session, message_id=message_id, by=ctx.by, note=note, now=ctx.now
        )
        return None

    return _act(ctx, message_id, change, lambda: "/triage?notice=dismissed")


@router.post("/{message_id}/make-request")
def make_request(
    ctx: Post, message_id: MessageId, kind: Annotated[str, Form(max_length=40)] = ""
) -> Response:
    made: list[str] = []

    def change() -> object:
        if kind not in KINDS:
            raise WorkflowRefusal("choose what kind of request the message is")
        request = triage.make_request_from_message(
            ctx.session,
            message_id=message_id,
            kind=RequestKind(kind),
            by=ctx.by,
            now=ctx.now,
            settings=ctx.state.settings,
        )
        made.append(request.ref)
        return request

    return _act(ctx, message_id, change, lambda: f"/requests/{made[0]}?notice=made_request")


@router.post("/{message_id}/reprocess")
def reprocess(ctx: Post, message_id: MessageId) -> Response:
    def change() -> object:
        return triage.reprocess_message(
            ctx.session, message_id=message_id, by=ctx.by, now=ctx.now, settings=ctx.state.settings
        )

    return _act(ctx, message_id, change, lambda: f"/triage/{message_id}?notice=reprocessed")
