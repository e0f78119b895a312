"""The outbox as a work queue: claim due rows (SKIP LOCKED), mark each sent, retried or failed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from pcse_intake.workflows.models import OutboxMessage, OutboxStatus

# Backoff after the n-th temporary failure: 1, 2, 4, ... minutes, never more than an hour.
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)


@dataclass(frozen=True)
class ClaimedEmail:
    """A claimed row's contents, detached from the session that claimed it."""

    id: int
    to_addr: str
    subject: str
    body_text: str
    body_html: str | None
    message_id_header: str
    in_reply_to: str | None
    references: str | None
    auto_submitted: str
    attempts: int


def claim_due(session: Session, *, now: datetime, limit: int = 100) -> list[ClaimedEmail]:
    """Mark up to `limit` due pending rows `sending` for this sender and return them.

    On PostgreSQL `FOR UPDATE SKIP LOCKED` lets several senders claim side by side without
    taking the same row; SQLite serialises writers anyway (BEGIN IMMEDIATE).
    """
    rows = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxStatus.PENDING,
            or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    claimed = []
    for row in rows:
        row.status = OutboxStatus.SENDING
        row.claimed_at = now
        claimed.append(
            ClaimedEmail(
                id=row.id,
                to_addr=row.to_addr,
                subject=row.subject,
                body_text=row.body_text,
                body_html=row.body_html,
                message_id_header=row.message_id_header,
                in_reply_to=row.in_reply_to,
                references=row.references,
                auto_submitted=row.auto_submitted,
                attempts=row.attempts,
            )
        )
    session.flush()
    return claimed


def recover_stuck(session: Session, *, now: datetime, older_than: timedelta) -> int:
    """Put rows left `sending` by a sender that died back to pending; returns how many.

    The server may have accepted such a message before the crash, so it can go out twice;
    it keeps its fixed Message-ID, so the recipient's client shows it once.
    """
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxStatus.SENDING,
            OutboxMessage.claimed_at < now - older_than,
        )
        .values(status=OutboxStatus.PENDING, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def mark_sent(session: Session, outbox_id: int, *, now: datetime) -> None:
    row = session.get_one(OutboxMessage, outbox_id)
    row.status = OutboxStatus.SENT
    row.sent_at = now
    row.attempts += 1
    row.last_error = None


def mark_retry(
    session: Session, outbox_id: int, *, now: datetime, error: str, max_attempts: int
) -> bool:
    """Count a temporary failure and schedule the next try; at the limit, mark it failed.

    Returns True if the row will be retried.
    """
    row = session.get_one(OutboxMessage, outbox_id)
    row.attempts += 1
    row.last_error = _one_line(error)
    if row.attempts >= max_attempts:
        row.status = OutboxStatus.FAILED
        return False
    row.status = OutboxStatus.PENDING
    row.next_attempt_at = now + retry_delay(row.attempts)
    return True


def mark_failed(session: Session, outbox_id: int, *, error: str) -> None:
    """A permanent failure (5xx, an unsafe header): staff must look; never retried."""
    row = session.get_one(OutboxMessage, outbox_id)
    row.attempts += 1
    row.status = OutboxStatus.FAILED
    row.last_error = _one_line(error)


def retry_delay(attempts: int) -> timedelta:
    delay: timedelta = FIRST_RETRY * (2 ** max(attempts - 1, 0))
    return min(delay, LONGEST_RETRY)


def backlog(session: Session) -> int:
    """Rows still to be sent (pending or being sent)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]))
        )
        or 0
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())[:2000]
