"""The automatic replies to practices: acknowledgements and requests for missing details."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pcse_intake.config import Settings
from pcse_intake.parsers import RequestKind
from pcse_intake.workflows.batch_memo import batch_memo
from pcse_intake.workflows.checks import SUBJECT_ROLE, problem
from pcse_intake.workflows.errors import InvalidValue
from pcse_intake.workflows.fields import describe, get_path
from pcse_intake.workflows.history import record
from pcse_intake.workflows.loops import reply_held_back, skip_reply
from pcse_intake.workflows.models import InboundMessage, OutboxMessage, Request
from pcse_intake.workflows.outbox import AUTO_REPLIED, enqueue

KIND_LABELS: dict[str, str] = {
    RequestKind.EMAIL_CHANGE: "update your practice e-mail address",
    RequestKind.MAIN_CONTACT_EXTENSION: "extend your main contact to a new practice",
    RequestKind.BRANCH_SETUP: "set up PCSE Online access for a branch",
    RequestKind.NEW_PRACTICE_SETUP: "set up PCSE Online access for a new practice",
}

# The party whose name greets the practice in our replies.
_REQUESTER_ROLE: dict[str, str] = {
    RequestKind.EMAIL_CHANGE: "practice",
    RequestKind.MAIN_CONTACT_EXTENSION: "existing_practice",
    RequestKind.BRANCH_SETUP: "main_practice",
    RequestKind.NEW_PRACTICE_SETUP: "new_practice",
}


def base_context(request: Request) -> dict[str, Any]:
    role = _REQUESTER_ROLE.get(request.kind) or SUBJECT_ROLE.get(RequestKind(request.kind), "")
    return {
        "ref": request.ref,
        "kind_label": KIND_LABELS.get(request.kind, "make a change"),
        "organisation": get_path(request.fields, f"{role}.name") if role else None,
    }


def threading(message: InboundMessage | None) -> tuple[str | None, list[str]]:
    """In-Reply-To and References for a reply to `message` (RFC 5322 section 3.6.4)."""
    if message is None or not message.message_id_header:
        return None, []
    earlier = (message.parse_result or {}).get("references") or []
    refs = [r for r in earlier if isinstance(r, str)]
    return message.message_id_header, [*refs, message.message_id_header]


def acknowledgements_today(session: Session, *, to: str, now: datetime) -> int:
    """Acknowledgements queued to `to` in the last day (the per-sender cap).

    No autoflush: outbox rows are flushed as they are queued (`outbox.enqueue`), so the
    pending changes of the caller (request state, history) cannot change the count.
    """
    memo = batch_memo(session)
    known = memo.acknowledgements(to, now) if memo is not None else None
    if known is not None:
        return known
    with session.no_autoflush:
        count = session.scalar(
            select(func.count(OutboxMessage.id)).where(
                OutboxMessage.template == "acknowledgement",
                OutboxMessage.to_addr == to,
                OutboxMessage.created_at > now - timedelta(days=1),
            )
        )
    return count or 0


def queue_reply(
    session: Session,
    *,
    request: Request,
    template: str,
    message: InboundMessage | None,
    now: datetime,
    settings: Settings,
    extra: dict[str, Any] | None = None,
) -> OutboxMessage | None:
    """An auto-reply to the request's sender (its From address, never Reply-To), or None.

    None when there is nobody safe to write to; the reason goes into the history.
    """
    to = request.sender
    if not to:
        record(
            session,
            actor="system",
            action="reply_skipped",
            at=now,
            request=request,
            note=f"no {template}: the message has no sender address",
        )
        return None
    if template == "acknowledgement":
        limit = settings.workflow.acknowledgements_per_sender_per_day
        if acknowledgements_today(session, to=to, now=now) >= limit:
            note = f"no acknowledgement: {to} already had {limit} today"
            skip_reply(session, request=request, to=to, note=note, now=now, settings=settings)
            return None
    if reply_held_back(
        session, request=request, template=template, to=to, now=now, settings=settings
    ):
        return None
    in_reply_to, references = threading(message)
    try:
        return enqueue(
            session,
            template=template,
            to=to,
            context={**base_context(request), **(extra or {})},
            now=now,
            settings=settings,
            request=request,
            in_reply_to=in_reply_to,
            references=references,
            auto_submitted=AUTO_REPLIED,
        )
    except InvalidValue as exc:
        # Never build a header from an unsafe address: no reply, and staff are told why.
        request.problems = [
            *request.problems,
            problem("cannot_reply", None, f"no {template} was sent to the sender: {exc}"),
        ]
        record(
            session,
            actor="system",
            action="reply_skipped",
            at=now,
            request=request,
            note=f"no {template}: {exc}",
        )
        return None


def ask_for_missing(
    session: Session,
    *,
    request: Request,
    message: InboundMessage | None,
    now: datetime,
    settings: Settings,
) -> OutboxMessage | None:
    return queue_reply(
        session,
        request=request,
        template="missing_information",
        message=message,
        now=now,
        settings=settings,
        extra={"missing": [describe(p) for p in request.missing]},
    )
