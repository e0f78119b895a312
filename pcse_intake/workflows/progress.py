"""Moving a request on once its details change: ask for what is missing, or queue it for a call."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from pcse_intake.config import Settings
from pcse_intake.workflows.fields import describe
from pcse_intake.workflows.history import record
from pcse_intake.workflows.models import InboundMessage, Request
from pcse_intake.workflows.replies import ask_for_missing, queue_reply
from pcse_intake.workflows.states import Event, transition


def advance(
    session: Session,
    request: Request,
    *,
    message: InboundMessage | None,
    settings: Settings,
    now: datetime,
    acknowledge: bool = True,
    actor: str = "system",
    ask: bool = True,
) -> None:
    """From received or awaiting_information: ask for missing details, or await verification."""
    before = request.state
    if request.missing:
        request.state = transition(before, Event.INFORMATION_NEEDED, ref=request.ref)
        record(
            session,
            actor=actor,
            action="information_requested" if ask else "information_missing",
            at=now,
            request=request,
            message=message,
            before={"state": before},
            after={"state": request.state, "missing": list(request.missing)},
            note="missing: " + "; ".join(describe(p) for p in request.missing),
        )
        if ask:
            ask_for_missing(session, request=request, message=message, now=now, settings=settings)
        return
    request.state = transition(before, Event.INFORMATION_COMPLETE, ref=request.ref)
    request.awaiting_verification_since = now
    record(
        session,
        actor=actor,
        action="awaiting_verification",
        at=now,
        request=request,
        message=message,
        before={"state": before},
        after={"state": request.state},
        note="all details given: phone the practice on the number we hold",
    )
    if acknowledge:
        queue_reply(
            session,
            request=request,
            template="acknowledgement",
            message=message,
            now=now,
            settings=settings,
        )
