"""Battery cases 19, 35 and 36: what our outgoing mail carries, and header injection.

A real e-mail change goes through the real parser, intake, verification, approval and the
outbox sender to an aiosmtpd server on loopback; the bytes that arrive are parsed again.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from pcse_intake.config import Settings
from pcse_intake.inbox_worker.outbox_job import send_outbox
from pcse_intake.inbox_worker.smtp_sender import SmtpMailer, UnsafeHeader, build_message
from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.decisions import approve, verify
from pcse_intake.workflows.models import OutboxMessage, OutboxStatus
from tests.conftest import TestDatabase
from tests.hardening.conftest import NOW, email_change_raw, ingest
from tests.inbox_worker.support import test_settings
from tests.inbox_worker.test_smtp_sender import ROW
from tests.servers import SmtpSink, smtp_sink

__all__ = ["smtp_sink"]

pytestmark = pytest.mark.smtp

BOUNCES = "bounces.pcse@nhs.net"
HEADERS = {
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Auto-Submitted",
    "X-Auto-Response-Suppress",
    "X-PCSE-Intake-Loop",  # our own mail, recognised if a forwarder sends it back (case 18)
    "MIME-Version",
    "Content-Type",
}
AUTO_SUBMITTED = {
    "acknowledgement": "auto-replied",
    "email_change_confirmation": "auto-generated",
    "email_change_notice": "auto-generated",
}


def _settings(database: TestDatabase, sink: SmtpSink) -> Settings:
    settings = test_settings(database.url, smtp=sink)
    return dataclasses.replace(
        settings, smtp=dataclasses.replace(settings.smtp, bounce_address=BOUNCES)
    )


def _approve_and_send(
    database: TestDatabase, sink: SmtpSink, raw: bytes
) -> tuple[list[OutboxMessage], list[EmailMessage]]:
    result = ingest(database, raw)
    ref = result.request_ref
    assert ref is not None
    later = NOW + timedelta(hours=1)
    with transaction(database.sessions) as s:
        note = "confirmed by the practice manager"  # the sender is not on record
        verify(
            s, ref=ref, by="alice", outcome="confirmed", now=later, settings=Settings(), notes=note
        )
    with transaction(database.sessions) as s:
        approve(s, ref=ref, by="bob", now=later, settings=Settings())
    settings = _settings(database, sink)
    report = send_outbox(
        database.sessions, lambda: SmtpMailer(settings.smtp), settings=settings, now=lambda: later
    )
    assert report.failed == 0
    with database.sessions() as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    received = [m.message() for m in sink.received]
    return rows, received


def test_every_email_of_an_approved_change_carries_the_promised_headers(
    ready: TestDatabase, smtp_sink: SmtpSink
) -> None:
    rows, received = _approve_and_send(ready, smtp_sink, email_change_raw(tag="inbound-19"))
    assert [r.template for r in rows] == list(AUTO_SUBMITTED)
    assert len(received) == len(rows) == 3
    for row, mail, message in zip(rows, smtp_sink.received, received, strict=True):
        assert row.status == OutboxStatus.SENT
        assert mail.mail_from == BOUNCES  # a dedicated bounce address, never the mailbox
        assert mail.rcpt_tos == (row.to_addr,)
        assert message["Message-ID"] == row.message_id_header
        assert message["Auto-Submitted"] == AUTO_SUBMITTED[row.template]
        assert message["X-Auto-Response-Suppress"] == "All"
        assert message["In-Reply-To"] == "<inbound-19@nhs.net>"
        assert "<inbound-19@nhs.net>" in message["References"]


HOSTILE_SUBJECT = "=?UTF-8?Q?Update_practice_email_address=0ABcc:_evil@example.org?="
HOSTILE_FROM_NAME = "=?UTF-8?Q?Ouseburn=0D=0ABcc:_evil@example.org?="
HOSTILE_NAMES = [
    "Ouseburn Surgery\x0bBcc: evil@example.org",
    "Ouseburn Surgery\x0cBcc: evil@example.org",
    "Ouseburn Surgery\x85Bcc: evil@example.org",
    "Ouseburn Surgery\u2028Bcc: evil@example.org",
    "Ouseburn Surgery\x00Bcc: evil@example.org",
    "Ouseburn Surgery =?UTF-8?Q?=0A?=Bcc: evil@example.org",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=["vt", "ff", "nel", "ls", "nul", "ew"])
def test_hostile_values_in_an_email_never_reach_a_header_of_what_we_send(
    ready: TestDatabase, smtp_sink: SmtpSink, name: str
) -> None:
    raw = email_change_raw(
        tag="hostile-35",
        subject=HOSTILE_SUBJECT,
        name=name,
        extra="References: <ok@nhs.net> <x@y>\r\n Bcc: evil@example.org\r\n",
    ).replace(b"From: Ouseburn Surgery", b"From: " + HOSTILE_FROM_NAME.encode())
    rows, received = _approve_and_send(ready, smtp_sink, raw)
    # The From's encoded display name hides "Bcc: ...@...": a Mailsploit form, so the sender
    # is not trusted (battery 29) and nothing is written to it; the confirmations still go.
    assert [r.template for r in rows] == [t for t in AUTO_SUBMITTED if t != "acknowledgement"]
    assert len(received) == len(rows)
    for mail, message in zip(smtp_sink.received, received, strict=True):
        assert set(message.keys()) <= HEADERS, message.keys()
        assert len(mail.rcpt_tos) == 1 and "evil" not in mail.rcpt_tos[0]
        head = mail.data.split(b"\r\n\r\n", 1)[0]
        assert b"evil@example.org" not in head and b"\x00" not in head
        again = message_from_bytes(mail.data, policy=policy.default)
        assert not again.defects and again["To"] == mail.rcpt_tos[0]


UNSAFE = ["\x00", "\x1b", "\x7f", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("field", ["subject", "to_addr", "in_reply_to", "references"])
@pytest.mark.parametrize("char", UNSAFE, ids=[f"U+{ord(c):04X}" for c in UNSAFE])
def test_a_control_character_in_any_header_value_is_refused_as_unsafe(
    field: str, char: str
) -> None:
    bad = dataclasses.replace(ROW, **{field: f"x{char}Bcc: victim@example.org"})  # type: ignore[arg-type]
    with pytest.raises(UnsafeHeader):
        build_message(bad, from_address="pcse.datamanager@nhs.net", from_name="PCSE", now=NOW)


@pytest.mark.parametrize("char", UNSAFE, ids=[f"U+{ord(c):04X}" for c in UNSAFE])
def test_a_control_character_in_our_display_name_is_refused(char: str) -> None:
    with pytest.raises(UnsafeHeader):
        build_message(
            ROW, from_address="pcse.datamanager@nhs.net", from_name=f"PCSE{char}x", now=NOW
        )


def test_an_unsafe_row_fails_alone_and_the_rest_of_the_round_is_sent(
    ready: TestDatabase, smtp_sink: SmtpSink
) -> None:
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with transaction(ready.sessions) as session:
        for n, subject in enumerate(["x\u2028Bcc: victim@example.org", "x\x00y", "fine"]):
            session.add(
                OutboxMessage(
                    template="acknowledgement",
                    to_addr=f"practice{n}@nhs.net",
                    subject=subject,
                    body_text="Hello\n",
                    message_id_header=f"<unsafe-{n}@nhs.net>",
                    auto_submitted="auto-replied",
                    status=OutboxStatus.PENDING,
                    next_attempt_at=t0,
                    created_at=t0,
                )
            )
    settings = _settings(ready, smtp_sink)
    report = send_outbox(
        ready.sessions, lambda: SmtpMailer(settings.smtp), settings=settings, now=lambda: t0
    )
    assert (report.failed, report.sent) == (2, 1)
    assert [m.rcpt_tos for m in smtp_sink.received] == [("practice2@nhs.net",)]
    with ready.sessions() as session:
        statuses = session.scalars(select(OutboxMessage.status).order_by(OutboxMessage.id))
        assert list(statuses) == ["failed", "failed", "sent"]
