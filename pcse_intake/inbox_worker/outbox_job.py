"""Send what the outbox holds: claim due rows, send each over SMTP, mark each in its own commit."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from pcse_intake.config import Settings
from pcse_intake.inbox_worker.faults import crash_point
from pcse_intake.inbox_worker.logs import event
from pcse_intake.inbox_worker.smtp_sender import (
    ConnectionLost,
    Mailer,
    PermanentFailure,
    TemporaryFailure,
    build_message,
)
from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.outbox_queue import (
    ClaimedEmail,
    claim_due,
    mark_failed,
    mark_retry,
    mark_sent,
    recover_stuck,
)

log = logging.getLogger(__name__)

# A row claimed longer ago than this belongs to a sender that died mid-send.
STUCK_AFTER = timedelta(minutes=10)

MailerFactory = Callable[[], AbstractContextManager[Mailer]]


@dataclass
class SendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    recovered: int = 0
    unreachable: str | None = None  # why the relay could not be reached, if it could not


def send_outbox(
    sessions: sessionmaker[Session],
    connect: MailerFactory,
    *,
    settings: Settings,
    now: Callable[[], datetime],
    limit: int = 200,
) -> SendReport:
    """One round: up to `limit` due rows, each sent once, rescheduled, or marked failed.

    Rows are claimed one at a time, so a sender killed mid-round leaves only the message in
    flight in doubt (in `sending`, recovered after STUCK_AFTER), never the rest of a batch.
    """
    report = SendReport()
    with transaction(sessions) as session:
        report.recovered = recover_stuck(session, now=now(), older_than=STUCK_AFTER)
    with contextlib.ExitStack() as connection:
        mailer: Mailer | None = None
        for _ in range(limit):
            with transaction(sessions) as session:
                claimed = claim_due(session, now=now(), limit=1)
            if not claimed:
                break
            email = claimed[0]
            crash_point("after_claim")
            if mailer is None:
                try:
                    mailer = connection.enter_context(connect())
                except TemporaryFailure as exc:
                    # Could not connect: nothing was handed over; this row waits for later.
                    report.unreachable = str(exc)
                    _retry_all([email], sessions, settings, now, str(exc))
                    report.retrying += 1
                    event(log, "smtp_unreachable", level=logging.ERROR, error=str(exc))
                    break
            if not _send_one(mailer, email, sessions, settings=settings, now=now, report=report):
                break  # the connection broke: the rest wait for the next round
    if report.sent or report.retrying or report.failed or report.recovered:
        event(log, "outbox_sent", **vars(report))
    return report


def _send_one(
    mailer: Mailer,
    email: ClaimedEmail,
    sessions: sessionmaker[Session],
    *,
    settings: Settings,
    now: Callable[[], datetime],
    report: SendReport,
) -> bool:
    """Send one row and record the outcome; False if the connection is no longer usable."""
    smtp = settings.smtp
    try:
        message = build_message(
            email, from_address=smtp.from_address, from_name=smtp.from_name, now=now()
        )
        mailer.send(
            message,
            envelope_from=smtp.bounce_address or smtp.from_address,
            recipients=[email.to_addr],
        )
    except PermanentFailure as exc:
        with transaction(sessions) as session:
            mark_failed(session, email.id, error=str(exc))
        report.failed += 1
        event(log, "outbox_failed", level=logging.ERROR, outbox_id=email.id, error=str(exc))
        return True
    except TemporaryFailure as exc:
        with transaction(sessions) as session:
            again = mark_retry(
                session, email.id, now=now(), error=str(exc), max_attempts=smtp.max_attempts
            )
        if again:
            report.retrying += 1
        else:
            report.failed += 1
        event(
            log,
            "outbox_retry" if again else "outbox_failed",
            level=logging.WARNING if again else logging.ERROR,
            outbox_id=email.id,
            error=str(exc),
        )
        return not isinstance(exc, ConnectionLost)
    # Accepted by the server: from here a crash means at most one resend, same Message-ID.
    crash_point("after_smtp_accept")
    with transaction(sessions) as session:
        mark_sent(session, email.id, now=now())
    report.sent += 1
    event(log, "outbox_message_sent", outbox_id=email.id, message_id=email.message_id_header)
    return True


def _retry_all(
    emails: list[ClaimedEmail],
    sessions: sessionmaker[Session],
    settings: Settings,
    now: Callable[[], datetime],
    error: str,
) -> None:
    with transaction(sessions) as session:
        for email in emails:
            mark_retry(
                session, email.id, now=now(), error=error, max_attempts=settings.smtp.max_attempts
            )
