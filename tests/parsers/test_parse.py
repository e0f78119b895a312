"""parse.py: every ParsedEmail field is filled, and a defect of ours still gives JSON."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime

import pytest

from pcse_intake.parsers import AuthVerdict, ParseOptions, RequestKind, parse

from .helpers import message

# the package re-exports the function under the module's name
parse_module = importlib.import_module("pcse_intake.parsers.parse")

REPLY = message(
    "New practice email address: g.office@nhs.net\nPractice code: A12345\nPractice name: "
    "Greenlane Surgery\nCurrent practice email address: g.surgery@nhs.net\n\nJane\n\n"
    "On Mon, 3 Mar 2025 at 10:00, PCSE <pcse.datamanager@nhs.net> wrote:\n> quoted B12345\n",
    subject="RE: PCSE-000123 Update practice email address",
    extra=(
        "Reply-To: Greenlane Office <G.Office@nhs.net>\r\n"
        "In-Reply-To: <ack-123@pcse.example>\r\nReferences: <a@x> <ack-123@pcse.example>\r\n"
        "Date: Tue, 04 Mar 2025 09:30:00 +0000\r\n"
        "Authentication-Results: mx.nhs.net; dmarc=pass header.from=nhs.net\r\n"
    ),
)


def test_every_field_of_a_reply_is_filled() -> None:
    result = parse(REPLY)
    assert result.kind is RequestKind.EMAIL_CHANGE
    assert result.sender == "jane.doe@nhs.net"
    assert result.sender_name == "DOE, Jane (GREENLANE SURGERY)"
    assert result.reply_to == "g.office@nhs.net"
    assert result.message_id == "<test@example.nhs.net>"
    assert result.in_reply_to == "<ack-123@pcse.example>"
    assert result.references == ("<a@x>", "<ack-123@pcse.example>")
    assert result.date == datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
    assert result.auth_verdict is AuthVerdict.PASS
    assert not result.automated
    assert "B12345" not in result.body_text and "Jane" not in result.body_text
    assert "> quoted B12345" in result.full_text


def test_repeated_from_headers_are_flagged_and_not_trusted() -> None:
    raw = message("hello", extra="From: other@nhs.net\r\n")
    result = parse(raw)
    assert result.sender is None
    assert result.has_problem("malformed_message")


def test_unknown_charset_in_the_subject_is_flagged() -> None:
    result = parse(message("hello", subject="=?x-unknown?Q?hi?="))
    assert result.has_problem("malformed_message")


def test_a_defect_of_ours_still_gives_the_identity_of_the_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(raw: bytes, options: ParseOptions) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(parse_module, "_parse", broken)
    result = parse_module.parse(REPLY)
    assert result.kind is RequestKind.UNKNOWN
    assert [p.code for p in result.problems] == ["malformed_message"]
    assert result.sender == "jane.doe@nhs.net"
    assert result.message_id == "<test@example.nhs.net>"
