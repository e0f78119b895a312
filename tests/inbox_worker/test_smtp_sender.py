"""Composing outbox rows into e-mails: the headers we promise, and fail-closed on line breaks."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from pcse_intake.config import ConfigError, SmtpSettings
from pcse_intake.inbox_worker.smtp_sender import UnsafeHeader, build_message, check_smtp_settings
from pcse_intake.parsers import parse
from pcse_intake.workflows.outbox_queue import ClaimedEmail

ROW = ClaimedEmail(
    id=7,
    to_addr="greenlane.surgery@nhs.net",
    subject="PCSE-000007: we have received your request",
    body_text="Hello,\nThank you.\n",
    body_html="<p>Hello,</p>",
    message_id_header="<abc@nhs.net>",
    in_reply_to="<theirs@nhs.net>",
    references="<root@nhs.net> <theirs@nhs.net>",
    auto_submitted="auto-generated",
    attempts=0,
)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _build(row: ClaimedEmail = ROW, from_name: str = "PCSE Data Management") -> bytes:
    message = build_message(
        row, from_address="pcse.datamanager@nhs.net", from_name=from_name, now=NOW
    )
    return message.as_bytes()


def test_the_message_carries_its_fixed_id_threading_and_loop_prevention_headers() -> None:
    raw = _build()
    assert b"Message-ID: <abc@nhs.net>\r\n" in raw
    assert b"In-Reply-To: <theirs@nhs.net>\r\n" in raw
    assert b"References: <root@nhs.net> <theirs@nhs.net>\r\n" in raw
    assert b"Auto-Submitted: auto-generated\r\n" in raw
    assert b"X-Auto-Response-Suppress: All\r\n" in raw
    assert b'From: "PCSE Data Management" <pcse.datamanager@nhs.net>' in raw or (
        b"From: PCSE Data Management <pcse.datamanager@nhs.net>" in raw
    )
    assert b"multipart/alternative" in raw


@pytest.mark.parametrize("field", ["subject", "to_addr", "in_reply_to", "references"])
@pytest.mark.parametrize("breaker", ["\r\n", "\n", "\r"])
def test_any_header_value_with_a_line_break_is_refused(field: str, breaker: str) -> None:
    bad = dataclasses.replace(ROW, **{field: f"x{breaker}Bcc: victim@example.org"})
    with pytest.raises(UnsafeHeader, match="line break"):
        _build(bad)


def test_a_display_name_with_a_line_break_is_refused_too() -> None:
    with pytest.raises(UnsafeHeader):
        _build(from_name="PCSE\r\nBcc: x@example.org")


def test_plain_smtp_to_a_remote_relay_is_refused_unless_explicitly_allowed() -> None:
    remote = SmtpSettings(host="smtp.example.org", security="none")
    with pytest.raises(ConfigError, match="loopback"):
        check_smtp_settings(remote)
    check_smtp_settings(dataclasses.replace(remote, allow_insecure=True))
    check_smtp_settings(SmtpSettings(host="127.0.0.1", security="none"))


def test_our_mail_forwarded_back_under_another_from_is_recognised_as_automated() -> None:
    """Case 18: a forwarder rewrites From and drops Auto-Submitted, but keeps our loop field."""
    raw = _build(dataclasses.replace(ROW, body_text="Please update our practice email.\n"))
    assert b"X-PCSE-Intake-Loop: pcse.datamanager@nhs.net\r\n" in raw
    forwarded = (
        raw.replace(b"Auto-Submitted: auto-generated\r\n", b"")
        .replace(b"X-Auto-Response-Suppress: All\r\n", b"")
        .replace(b"pcse.datamanager@nhs.net>", b"greenlane.reception@nhs.net>", 1)
    )
    assert parse(forwarded).automated
    assert not parse(forwarded.replace(b"X-PCSE-Intake-Loop", b"X-Other")).automated
