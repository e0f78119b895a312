"""Mail-loop protection: an hourly cap on automatic replies to one address, and a loop alert."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pcse_intake.config import Settings
from pcse_intake.workflows.batch_memo import batch_memo
from pcse_intake.workflows.history import record
from pcse_intake.workflows.models import HistoryEntry, InboundMessage, OutboxMessage, Request
from pcse_intake.workflows.outbox import enqueue

log = logging.getLogger(__name__)

LOOP_ACTION = "possible_mail_loop"
LOOP_TEMPLATE = "staff_loop_alert"
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)
_WARNED = "pcse_loop_warned"  # Session.info: addresses already warned about today


def messages_to_address_this_hour(session: Session, *, to: str, now: datetime) -> int:
    """Everything queued to `to` in the last hour, whatever the template (battery case 20:
    at most 3 messages in an hour to a responder, not 3 of each kind)."""
    memo = batch_memo(session)
    if memo is not None and (known := memo.sent_this_hour(to, now)) is not None:
        return known
    with session.no_autoflush:  # outbox rows are flushed as they are queued
        count = session.scalar(
            select(func.count(OutboxMessage.id)).where(
                OutboxMessage.to_addr == to, OutboxMessage.created_at > now - _HOUR
            )
        )
    return count or 0


def messages_from_address_today(session: Session, *, address: str, now: datetime) -> int:
    """Messages received from `address` in the last day (indexed by sender)."""
    memo = batch_memo(session)
    if memo is not None and (known := memo.received_today(address, now)) is not None:
        return known
    with session.no_autoflush:
        count = session.scalar(
            select(func.count(InboundMessage.id)).where(
                InboundMessage.sender == address, InboundMessage.received_at > now - _DAY
            )
        )
    return count or 0


def reply_held_back(
    session: Session,
    *,
    request: Request,
    template: str,
    to: str,
    now: datetime,
    settings: Settings,
) -> bool:
    """True when an automatic reply to `to` must not be sent, because `to` already had
    `replies_per_address_per_hour` e-mails from us in the last hour, or has written
    `loop_alert_after` messages in the last day (a possible loop: replying feeds it). The
    request's history says why, and staff are warned of the loop (`note_held_back`)."""
    limit = settings.workflow.replies_per_address_per_hour
    if messages_to_address_this_hour(session, to=to, now=now) >= limit:
        why = f"{to} already had {limit} e-mails from us in the last hour"
    elif messages_from_address_today(session, address=to, now=now) >= (
        settings.workflow.loop_alert_after
    ):
        why = f"{to} wrote {settings.workflow.loop_alert_after} or more messages today"
    else:
        return False
    skip_reply(
        session,
        request=request,
        to=to,
        note=f"no {template}: {why} (loop protection)",
        now=now,
        settings=settings,
    )
    return True


def skip_reply(
    session: Session, *, request: Request, to: str, note: str, now: datetime, settings: Settings
) -> None:
    """Record on the request that a reply was not sent, and watch `to` for a loop."""
    record(session, actor="system", action="reply_skipped", at=now, request=request, note=note)
    note_held_back(session, address=to, now=now, settings=settings)


def note_held_back(session: Session, *, address: str, now: datetime, settings: Settings) -> bool:
    """A reply to `address` was held back by a cap: warn staff if it looks like a loop.

    An address that has written `loop_alert_after` messages in the last day while we hold
    our replies back is either a responder answering us or a flood; either way a person
    should look. The warning goes out at most once a day per address: a WARNING log line,
    a history row, and an e-mail to `staff_digest_address` when it is set (never to the
    address itself). Returns True when it warned now.
    """
    received = messages_from_address_today(session, address=address, now=now)
    if received < settings.workflow.loop_alert_after:
        return False
    with session.no_autoflush:
        if _warned_today(session, address=address, now=now):
            return False
    session.info.setdefault(_WARNED, set()).add(address)
    log.warning(
        LOOP_ACTION,
        extra={"pcse_fields": {"address": address, "messages_in_last_day": received}},
    )
    record(
        session,
        actor="system",
        action=LOOP_ACTION,
        at=now,
        after={"address": address, "messages_in_last_day": received},
        note=f"possible mail loop: {address} wrote {received} messages in a day; "
        "automatic replies to it are held back",
    )
    staff = settings.workflow.staff_digest_address
    if staff:
        enqueue(
            session,
            template=LOOP_TEMPLATE,
            to=staff,
            context={
                "address": address,
                "received": received,
                "per_hour": settings.workflow.replies_per_address_per_hour,
                "as_of": f"{now:%Y-%m-%d %H:%M} UTC",
            },
            now=now,
            settings=settings,
        )
    return True


def _warned_today(session: Session, *, address: str, now: datetime) -> bool:
    # During a flood every message asks, so the first question in a transaction reads the
    # day's few warnings and the session keeps the addresses (warnings made later in the
    # transaction are added by `note_held_back`). Comparing here avoids matching an address
    # (with its '_' and '%') inside a LIKE pattern.
    known: set[str] | None = session.info.get(_WARNED)
    if known is None:
        afters = session.scalars(
            select(HistoryEntry.after).where(
                HistoryEntry.action == LOOP_ACTION, HistoryEntry.at > now - _DAY
            )
        )
        known = {str(after.get("address")) for after in afters if after}
        session.info[_WARNED] = known
    return address in known
