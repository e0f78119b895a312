"""Send what the outbox holds: claim due rows, send each over SMTP, mark each in its own commit."""

from __future__ import annotations

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
    """One round: every due row is sent once, or rescheduled, or marked failed."""
    report = SendReport()
    with transaction(sessions) as session:
        report.recovered = recover_stuck(session, now=now(), older_than=STUCK_AFTER)
        claimed = claim_due(session, now=now(), limit=limit)
    if not claimed:
        return report
    try:
        with connect() as mailer:
            for index, email in enumerate(claimed):
                if not _send_one(
                    mailer, email, sessions, settings=settings, now=now, report=report
                ):
                    # The connection broke: the rest go back to the queue without an attempt.
                    _retry_all(claimed[index + 1 :], sessions, settings, now, "connection lost")
                    report.retrying += len(claimed) - index - 1
                    break
    except TemporaryFailure as exc:
        # Could not connect at all: nothing was handed over, every row is retried later.
        report.unreachable = str(exc)
        unsent = claimed[report.sent + report.retrying + report.failed :]
        _retry_all(unsent, sessions, settings, now, str(exc))
        report.retrying += len(unsent)
        event(log, "smtp_unreachable", level=logging.ERROR, error=str(exc), waiting=len(unsent))
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
