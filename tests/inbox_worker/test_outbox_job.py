"""Sending the outbox through a real aiosmtpd server: once each, retried, or failed visibly."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from pcse_intake.config import Settings
from pcse_intake.inbox_worker.outbox_job import STUCK_AFTER, send_outbox
from pcse_intake.inbox_worker.smtp_sender import Mailer, SmtpMailer
from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.models import OutboxMessage, OutboxStatus
from pcse_intake.workflows.outbox_queue import claim_due
from tests.conftest import TestDatabase
from tests.inbox_worker.support import test_settings
from tests.servers import SmtpSink

pytestmark = pytest.mark.smtp

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _queue(
    sessions: sessionmaker[Session], count: int = 1, *, subject: str = "PCSE-000001: received"
) -> list[int]:
    ids = []
    with transaction(sessions) as session:
        for n in range(count):
            row = OutboxMessage(
                template="acknowledgement",
                to_addr=f"practice{n}@nhs.net",
                subject=subject,
                body_text="We have your request.\n",
                body_html="<p>We have your request.</p>",
                message_id_header=f"<out-{n}-{id(sessions)}@nhs.net>",
                in_reply_to=f"<theirs-{n}@nhs.net>",
                references=f"<root-{n}@nhs.net> <theirs-{n}@nhs.net>",
                auto_submitted="auto-replied",
                status=OutboxStatus.PENDING,
                next_attempt_at=T0,
                created_at=T0,
            )
            session.add(row)
            session.flush()
            ids.append(row.id)
    return ids


def _rows(sessions: sessionmaker[Session]) -> list[OutboxMessage]:
    with sessions() as session:
        return list(session.query(OutboxMessage).order_by(OutboxMessage.id))


def _connector(settings: Settings) -> Callable[[], AbstractContextManager[Mailer]]:
    return lambda: SmtpMailer(settings.smtp)


def test_each_row_is_sent_once_with_threading_and_loop_headers_then_marked_sent(
    smtp_sink: SmtpSink, sqlite_database: TestDatabase
) -> None:
    settings = test_settings(sqlite_database.url, smtp=smtp_sink)
    _queue(sqlite_database.sessions, 2)
    first = send_outbox(
        sqlite_database.sessions, _connector(settings), settings=settings, now=lambda: T0
    )
    again = send_outbox(
        sqlite_database.sessions, _connector(settings), settings=settings, now=lambda: T0
    )
    assert (first.sent, again.sent) == (2, 0)
    assert len(smtp_sink.received) == 2
    mail = smtp_sink.received[0]
    message = mail.message()
    assert mail.mail_from == settings.smtp.from_address
    assert mail.rcpt_tos == ("practice0@nhs.net",)
    assert message["Message-ID"] == _rows(sqlite_database.sessions)[0].message_id_header
    assert message["In-Reply-To"] == "<theirs-0@nhs.net>"
    assert message["References"] == "<root-0@nhs.net> <theirs-0@nhs.net>"
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["X-Auto-Response-Suppress"] == "All"
    assert message["Subject"] == "PCSE-000001: received"
    assert b"\r\n" in mail.data and b"\n" not in mail.data.replace(b"\r\n", b"")
    assert {r.status for r in _rows(sqlite_database.sessions)} == {OutboxStatus.SENT}


def test_an_unreachable_relay_keeps_every_row_and_sends_each_once_when_it_is_back(
    sqlite_database: TestDatabase,
) -> None:
    sink = SmtpSink()
    sink.start()
    port = sink.port
    sink.stop()  # the relay is down: connection refused
    settings = test_settings(sqlite_database.url, smtp=sink)
    _queue(sqlite_database.sessions, 3)
    down = send_outbox(
        sqlite_database.sessions, _connector(settings), settings=settings, now=lambda: T0
    )
    assert down.unreachable and down.retrying == 1 and down.sent == 0
    rows = _rows(sqlite_database.sessions)
    # Nothing lost or given up: the row tried waits for its backoff, the others stay due.
    assert all(r.status == OutboxStatus.PENDING for r in rows)
    assert rows[0].next_attempt_at is not None and rows[0].next_attempt_at > T0
    again = send_outbox(
        sqlite_database.sessions, _connector(settings), settings=settings, now=lambda: T0
    )
    assert again.retrying == 1 and again.sent == 0
    with SmtpSink(port=port) as back:
        later = T0 + timedelta(minutes=5)
        up = send_outbox(
            sqlite_database.sessions, _connector(settings), settings=settings, now=lambda: later
        )
        assert up.sent == 3
        assert len(back.received) == 3
        assert len({m.message()["Message-ID"] for m in back.received}) == 3


def test_a_4xx_answer_is_retried_and_a_5xx_answer_fails_the_row_visibly(
    smtp_sink: SmtpSink, sqlite_database: TestDatabase
) -> None:
    settings = test_settings(sqlite_database.url, smtp=smtp_sink)
    [first] = _queue(sqlite_database.sessions, 1)
    smtp_sink.refuse_with("451 4.3.0 mailbox busy")
    soft = send_outbox(
        sqlite_database.sessions, _connector(settings), settings=settings, now=lambda: T0
    )
    assert soft.retrying == 1
    smtp_sink.refuse_with("550 5.1.1 no such user")
    hard = send_outbox(
        sqlite_database.sessions,
        _connector(settings),
        settings=settings,
        now=lambda: T0 + timedelta(hours=2),
    )
    assert hard.failed == 1
    [row] = _rows(sqlite_database.sessions)
    assert row.id == first and row.status == OutboxStatus.FAILED and row.attempts == 2
    assert row.last_error is not None and "550" in row.last_error
    assert smtp_sink.received == []


def test_a_header_value_with_a_line_break_fails_closed_and_nothing_is_sent(
    smtp_sink: SmtpSink, sqlite_database: TestDatabase
) -> None:
    settings = test_settings(sqlite_database.url, smtp=smtp_sink)
    _queue(sqlite_database.sessions, 1, subject="hello\r\nBcc: victim@example.org")
    report = send_outbox(
        sqlite_database.sessions, _connector(settings), settings=settings, now=lambda: T0
    )
    assert report.failed == 1 and report.sent == 0
    [row] = _rows(sqlite_database.sessions)
    assert row.status == OutboxStatus.FAILED and "line break" in (row.last_error or "")
    assert smtp_sink.received == []


def test_rows_left_sending_by_a_dead_sender_are_sent_later_with_the_same_message_id(
    smtp_sink: SmtpSink, sqlite_database: TestDatabase
) -> None:
    settings = test_settings(sqlite_database.url, smtp=smtp_sink)
    _queue(sqlite_database.sessions, 1)
    with transaction(sqlite_database.sessions) as session:
        [claimed] = claim_due(session, now=T0)  # ... and the sender dies here
    not_yet = send_outbox(
        sqlite_database.sessions, _connector(settings), settings=settings, now=lambda: T0
    )
    assert not_yet.sent == 0
    later = T0 + STUCK_AFTER + timedelta(seconds=1)
    report = send_outbox(
        sqlite_database.sessions, _connector(settings), settings=settings, now=lambda: later
    )
    assert (report.recovered, report.sent) == (1, 1)
    assert smtp_sink.received[0].message()["Message-ID"] == claimed.message_id_header


@pytest.mark.postgres
def test_two_claimers_at_once_on_postgresql_never_take_the_same_row(pg_url: str) -> None:
    from pcse_intake.workflows.db import make_engine, make_sessionmaker
    from pcse_intake.workflows.migrate import upgrade

    engine = make_engine(pg_url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    _queue(sessions, 40)
    barrier = threading.Barrier(2)
    taken: list[list[int]] = [[], []]

    def claim(slot: int) -> None:
        with transaction(sessions) as session:
            barrier.wait()
            for _ in range(4):
                taken[slot] += [c.id for c in claim_due(session, now=T0, limit=5)]

    workers = [threading.Thread(target=claim, args=(n,)) for n in (0, 1)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    engine.dispose()
    assert taken[0] and taken[1], "both claimers got work"
    assert not set(taken[0]) & set(taken[1])
    assert len(taken[0]) + len(taken[1]) == 40
