"""Messages that are not (yet) requests: dismiss them, make a request of one, or parse it again."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from pcse_intake.config import Settings
from pcse_intake.parsers import RequestKind
from pcse_intake.workflows.errors import IllegalTransition, InvalidValue, MessageNotFound
from pcse_intake.workflows.fields import required_text, valid_paths
from pcse_intake.workflows.history import record
from pcse_intake.workflows.intake import IntakeResult, open_request, process_stored
from pcse_intake.workflows.models import MAX_ROW_ID, InboundMessage, MessageStatus, Request
from pcse_intake.workflows.staff import Action, require_permission

# A message in one of these may be dismissed, made into a request or parsed again.
OPEN_MESSAGE_STATES = frozenset(
    {
        MessageStatus.TRIAGE,
        MessageStatus.QUARANTINED,
        MessageStatus.AUTOMATED,
        MessageStatus.RECEIVED,
    }
)


def _load(session: Session, message_id: int) -> InboundMessage:
    row = None
    if 1 <= message_id <= MAX_ROW_ID:
        row = session.get(InboundMessage, message_id, with_for_update=True)
    if row is None:
        raise MessageNotFound(f"there is no stored message {message_id}")
    return row


def _must_be_open(row: InboundMessage, what: str) -> None:
    if MessageStatus(row.status) not in OPEN_MESSAGE_STATES:
        raise IllegalTransition(f"message {row.id} is {row.status}: cannot {what}")


def dismiss_message(
    session: Session, *, message_id: int, by: str, note: str, now: datetime
) -> None:
    """Close a triage item with a note (kept, never deleted)."""
    require_permission(session, by, Action.TRIAGE)
    text = required_text(note, missing="say in a note why the message needs no action")
    row = _load(session, message_id)
    _must_be_open(row, "dismiss it")
    before = row.status
    row.status = MessageStatus.DISMISSED
    row.dismissed_by = by
    row.dismiss_note = text
    record(
        session,
        actor=by,
        action="message_dismissed",
        at=now,
        message_id=row.id,
        before={"status": before},
        after={"status": row.status},
        note=text,
    )
    session.flush()


def make_request_from_message(
    session: Session,
    *,
    message_id: int,
    kind: RequestKind,
    by: str,
    now: datetime,
    settings: Settings,
    ask_for_missing: bool = True,
) -> Request:
    """Staff say what a message asks for; its parsed details (if any) seed the request."""
    require_permission(session, by, Action.TRIAGE)
    kind = RequestKind(kind)
    if kind is RequestKind.UNKNOWN:
        raise InvalidValue("choose what kind of request the message is")
    row = _load(session, message_id)
    _must_be_open(row, "make a request of it")
    parsed = row.parse_result or {}
    allowed = {p.split(".", 1)[0] for p in valid_paths(kind)}
    fields = {k: v for k, v in (parsed.get("request") or {}).items() if k in allowed}
    before = row.status
    # Never write to the sender of automated mail (RFC 3834), whatever staff filed it as.
    reply = ask_for_missing and before != MessageStatus.AUTOMATED
    request = open_request(
        session,
        row,
        kind=kind,
        fields=fields,
        parser_problems=[p for p in parsed.get("problems") or [] if isinstance(p, dict)],
        settings=settings,
        now=now,
        acknowledge=reply,
        actor=by,
        ask=reply,
    )
    row.status = MessageStatus.REQUEST
    row.request_id = request.id
    record(
        session,
        actor=by,
        action="message_made_request",
        at=now,
        request=request,
        message_id=row.id,
        before={"status": before},
        after={"status": row.status},
        note=f"staff filed it as {kind.value}",
    )
    session.flush()
    return request


def reprocess_message(
    session: Session, *, message_id: int, by: str, now: datetime, settings: Settings
) -> IntakeResult:
    """Parse a stored message again with today's parser and file it as if it had just come."""
    require_permission(session, by, Action.TRIAGE)
    row = _load(session, message_id)
    _must_be_open(row, "process it again")
    if row.raw is None:
        raise IllegalTransition(f"message {row.id} was purged; only its record is left")
    before = row.status
    row.status = MessageStatus.RECEIVED
    row.error = None
    record(
        session,
        actor=by,
        action="message_reprocessed",
        at=now,
        message_id=row.id,
        before={"status": before},
        after={"status": row.status},
    )
    return process_stored(session, row, settings=settings, now=now, actor=by)
