"""Battery case 17 end to end: a confirmation we really sent bounces, and staff are told.

A real e-mail change goes through intake, verification, approval and the outbox sender to
an aiosmtpd server on loopback; the bounce wraps the header block that server received.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import select

from pcse_intake.config import Settings
from pcse_intake.inbox_worker.outbox_job import send_outbox
from pcse_intake.inbox_worker.smtp_sender import SmtpMailer
from pcse_intake.workflows.bounces import BOUNCE_PROBLEM, BOUNCE_TEMPLATE
from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.decisions import approve, verify
from pcse_intake.workflows.models import (
    HistoryEntry,
    MessageStatus,
    OutboxMessage,
    OutboxStatus,
    Request,
)
from tests.conftest import TestDatabase
from tests.hardening.conftest import NOW, email_change_raw, ingest
from tests.inbox_worker.support import test_settings
from tests.servers import SmtpSink, smtp_sink

__all__ = ["smtp_sink"]

pytestmark = pytest.mark.smtp

STAFF = "pcse.caseworkers@nhs.net"
LATER = NOW + timedelta(hours=1)


def _settings(database: TestDatabase, sink: SmtpSink) -> Settings:
    settings = test_settings(database.url, smtp=sink)
    workflow = dataclasses.replace(settings.workflow, staff_digest_address=STAFF)
    return dataclasses.replace(settings, workflow=workflow)


def _send(database: TestDatabase, settings: Settings) -> None:
    report = send_outbox(
        database.sessions, lambda: SmtpMailer(settings.smtp), settings=settings, now=lambda: LATER
    )
    assert report.failed == 0


def _approved_and_sent(database: TestDatabase, settings: Settings) -> str:
    """A real e-mail change, verified, approved, and its e-mails sent; returns its ref."""
    ref = ingest(database, email_change_raw(tag="bounce-17"), settings=settings).request_ref
    assert ref is not None
    with transaction(database.sessions) as s:
        verify(s, ref=ref, by="alice", outcome="confirmed", now=LATER, settings=settings)
    with transaction(database.sessions) as s:
        approve(s, ref=ref, by="bob", now=LATER, settings=settings)
    _send(database, settings)
    return ref


def _dsn(received: bytes, *, action: str = "failed", tag: str = "1") -> bytes:
    """A Postfix DSN for a message as the relay received it (its header block returned)."""
    head = received.split(b"\r\n\r\n", 1)[0]
    return (
        b"Return-Path: <>\r\nFrom: MAILER-DAEMON@mx.nhs.net (Mail Delivery System)\r\n"
        b"To: bounces.pcse@nhs.net\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        b"Message-Id: <dsn-" + tag.encode() + b"@mx.nhs.net>\r\nAuto-Submitted: auto-replied\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.nhs.net\r\n"
        b"\r\nFinal-Recipient: rfc822; ouseburn.admin@nhs.net\r\nAction: "
        + action.encode()
        + b"\r\n"
        b"Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 Recipient not found\r\n\r\n"
        b"--B\r\nContent-Type: text/rfc822-headers\r\n\r\n" + head + b"\r\n--B--\r\n"
    )


def _received_for(sink: SmtpSink, message_id: str) -> bytes:
    return next(m.data for m in sink.received if message_id.encode() in m.data)


def test_a_bounced_confirmation_marks_its_row_shows_on_the_request_and_alerts_staff(
    ready: TestDatabase, smtp_sink: SmtpSink
) -> None:
    settings = _settings(ready, smtp_sink)
    ref = _approved_and_sent(ready, settings)
    with ready.sessions() as session:
        sent = session.scalars(
            select(OutboxMessage).where(OutboxMessage.template != "acknowledgement")
        ).all()
    confirmation = next(r for r in sent if r.template == "email_change_confirmation")
    result = ingest(
        ready, _dsn(_received_for(smtp_sink, confirmation.message_id_header)), settings=settings
    )
    assert result.status is MessageStatus.AUTOMATED and result.outbox_ids == ()
    with ready.sessions() as session:
        row = session.get(OutboxMessage, confirmation.id)
        request = session.scalars(select(Request)).one()
        alerts = session.scalars(
            select(OutboxMessage).where(OutboxMessage.template == BOUNCE_TEMPLATE)
        ).all()
        written = session.scalars(
            select(OutboxMessage.to_addr).where(OutboxMessage.id > max(r.id for r in sent))
        ).all()
        history = session.scalars(
            select(HistoryEntry).where(HistoryEntry.action == "reply_bounced")
        ).all()
    assert row is not None and row.status == OutboxStatus.BOUNCED
    assert row.last_error is not None and "550 5.1.1 Recipient not found" in row.last_error
    assert [p["code"] for p in request.problems].count(BOUNCE_PROBLEM) == 1
    assert [h.request_id for h in history] == [request.id]
    assert len(alerts) == 1 and alerts[0].to_addr == STAFF and alerts[0].request_id is None
    assert alerts[0].subject.startswith(ref) and "bounced" in alerts[0].subject
    assert confirmation.to_addr in alerts[0].body_text
    assert written == [STAFF]  # nothing at all to the practice


def test_the_same_bounce_twice_alerts_staff_once(ready: TestDatabase, smtp_sink: SmtpSink) -> None:
    settings = _settings(ready, smtp_sink)
    _approved_and_sent(ready, settings)
    with ready.sessions() as session:
        confirmation = session.scalars(
            select(OutboxMessage).where(OutboxMessage.template == "email_change_confirmation")
        ).one()
    received = _received_for(smtp_sink, confirmation.message_id_header)
    ingest(ready, _dsn(received, tag="1"), settings=settings)
    ingest(ready, _dsn(received, tag="2"), settings=settings)  # another relay's copy
    with ready.sessions() as session:
        alerts = session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.template == BOUNCE_TEMPLATE)
        ).all()
        request = session.scalars(select(Request)).one()
    assert len(alerts) == 1
    assert [p["code"] for p in request.problems].count(BOUNCE_PROBLEM) == 1


def test_a_bounced_acknowledgement_shows_on_the_request_without_e_mailing_staff(
    ready: TestDatabase, smtp_sink: SmtpSink
) -> None:
    settings = _settings(ready, smtp_sink)
    ingest(ready, email_change_raw(tag="ack-17"), settings=settings)
    _send(ready, settings)
    with ready.sessions() as session:
        ack = session.scalars(select(OutboxMessage)).one()
    ingest(ready, _dsn(_received_for(smtp_sink, ack.message_id_header)), settings=settings)
    with ready.sessions() as session:
        rows = session.scalars(select(OutboxMessage)).all()
        request = session.scalars(select(Request)).one()
    assert [r.status for r in rows] == [OutboxStatus.BOUNCED]  # no alert e-mail queued
    assert any(p["code"] == BOUNCE_PROBLEM for p in request.problems)


def test_a_delay_notice_changes_nothing(ready: TestDatabase, smtp_sink: SmtpSink) -> None:
    settings = _settings(ready, smtp_sink)
    _approved_and_sent(ready, settings)
    with ready.sessions() as session:
        confirmation = session.scalars(
            select(OutboxMessage).where(OutboxMessage.template == "email_change_confirmation")
        ).one()
    received = _received_for(smtp_sink, confirmation.message_id_header)
    ingest(ready, _dsn(received, action="delayed"), settings=settings)
    with ready.sessions() as session:
        row = session.get(OutboxMessage, confirmation.id)
        alerts = session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.template == BOUNCE_TEMPLATE)
        ).all()
    assert row is not None and row.status == OutboxStatus.SENT and alerts == []


def test_a_bounce_of_a_staff_alert_raises_no_further_alert(
    ready: TestDatabase, smtp_sink: SmtpSink
) -> None:
    settings = _settings(ready, smtp_sink)
    _approved_and_sent(ready, settings)
    with ready.sessions() as session:
        confirmation = session.scalars(
            select(OutboxMessage).where(OutboxMessage.template == "email_change_confirmation")
        ).one()
    ingest(ready, _dsn(_received_for(smtp_sink, confirmation.message_id_header)), settings=settings)
    _send(ready, settings)  # the staff alert goes out, and the staff address bounces it too
    with ready.sessions() as session:
        alert = session.scalars(
            select(OutboxMessage).where(OutboxMessage.template == BOUNCE_TEMPLATE)
        ).one()
    ingest(
        ready, _dsn(_received_for(smtp_sink, alert.message_id_header), tag="2"), settings=settings
    )
    with ready.sessions() as session:
        alerts = session.scalars(
            select(OutboxMessage).where(OutboxMessage.template == BOUNCE_TEMPLATE)
        ).all()
    assert [a.status for a in alerts] == [OutboxStatus.BOUNCED]  # marked, and no new alert
