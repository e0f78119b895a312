"""Daily housekeeping: purge raw message bytes past retention; queue the staff reminder digest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from pcse_intake.config import Settings
from pcse_intake.workflows.history import record
from pcse_intake.workflows.legal_hold import is_held
from pcse_intake.workflows.models import InboundMessage, OutboxMessage, Request, RequestState
from pcse_intake.workflows.outbox import enqueue

DIGEST_TEMPLATE = "staff_reminder_digest"


def purge_raw_messages(session: Session, *, now: datetime, older_than_days: int) -> int:
    """Drop the raw bytes of messages received more than `older_than_days` ago.

    The message row (sender, subject, sha256, parse result), its request and all history
    stay, and messages of a request on legal hold keep their bytes until it is released.
    Idempotent: purged rows have no bytes left, so a rerun purges nothing.
    """
    cutoff = now - timedelta(days=older_than_days)
    result = session.execute(
        update(InboundMessage)
        .where(
            InboundMessage.raw.is_not(None),
            InboundMessage.received_at < cutoff,
            ~is_held(),
        )
        .values(raw=None, purged_at=now)
        .execution_options(synchronize_session=False)
    )
    purged = int(getattr(result, "rowcount", 0) or 0)
    if purged:
        record(
            session,
            actor="system",
            action="retention_purge",
            at=now,
            note=f"raw bytes of {purged} messages received before {cutoff:%Y-%m-%d} purged",
        )
    return purged


def working_days_before(moment: datetime, days: int) -> datetime:
    """The same time of day `days` working days (Monday to Friday) earlier.

    Bank holidays are not known here: around them the digest lists requests a day early.
    """
    result = moment
    remaining = days
    while remaining > 0:
        result -= timedelta(days=1)
        if result.weekday() < 5:
            remaining -= 1
    return result


@dataclass(frozen=True)
class WaitingRequest:
    ref: str
    kind: str
    organisation: str | None
    since: str
    no_answer_count: int


def waiting_on_verification(
    session: Session, *, now: datetime, working_days: int
) -> list[WaitingRequest]:
    """Requests in awaiting_verification for longer than `working_days` working days."""
    cutoff = working_days_before(now, working_days)
    rows = session.scalars(
        select(Request)
        .where(
            Request.state == RequestState.AWAITING_VERIFICATION,
            Request.awaiting_verification_since < cutoff,
        )
        .order_by(Request.awaiting_verification_since, Request.id)
    )
    return [
        WaitingRequest(
            ref=r.ref,
            kind=r.kind,
            organisation=r.practice_name or r.ods_code,
            since=f"{r.awaiting_verification_since:%Y-%m-%d}",
            no_answer_count=r.no_answer_count,
        )
        for r in rows
    ]


def queue_reminder_digest(session: Session, *, settings: Settings, now: datetime) -> int | None:
    """Queue today's digest to `workflow.staff_digest_address`; returns the outbox id.

    Returns None when the digest is turned off, nothing is waiting, or today's digest is
    already queued (so running the job twice in a day sends one digest).
    """
    address = settings.workflow.staff_digest_address
    if not address:
        return None
    start_of_day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    already = session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.template == DIGEST_TEMPLATE, OutboxMessage.created_at >= start_of_day)
    )
    if already:
        return None
    days = settings.workflow.reminder_working_days
    waiting = waiting_on_verification(session, now=now, working_days=days)
    if not waiting:
        return None
    row = enqueue(
        session,
        template=DIGEST_TEMPLATE,
        to=address,
        context={"requests": waiting, "working_days": days, "as_of": f"{now:%Y-%m-%d %H:%M} UTC"},
        now=now,
        settings=settings,
    )
    return row.id
