"""headers.py: encoded words, addresses, dates, Message-IDs, Authentication-Results,
automated mail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pcse_intake.parsers import ParseOptions, parse
from pcse_intake.parsers.headers import (
    auth_verdict,
    decode_header_value,
    first_mailbox,
    is_automated,
    message_id,
    message_ids,
    parse_date,
    repeated_own_auth_results,
    sole_mailbox,
)
from pcse_intake.parsers.mime import parse_headers
from pcse_intake.parsers.model import AuthVerdict


def test_encoded_word_in_windows_1252_is_decoded() -> None:
    assert decode_header_value("=?windows-1252?q?Extend_=96_Eyeline?=") == "Extend \u2013 Eyeline"


def test_encoded_newline_cannot_smuggle_a_header() -> None:
    assert "\n" not in decode_header_value("=?UTF-8?Q?hi=0ABcc:_evil@x?=")


def test_unknown_charset_in_an_encoded_word_does_not_raise() -> None:
    assert decode_header_value("=?x-unknown?B?aGk=?=") == "hi"


def test_first_mailbox_lowercases_and_keeps_the_display_name() -> None:
    box = first_mailbox('"HEWITT, Barry (THORPE EDGE SURGERY)" <Barry.Hewitt@NHS.net>')
    assert box is not None
    assert box.address == "barry.hewitt@nhs.net"
    assert box.name == "HEWITT, Barry (THORPE EDGE SURGERY)"


def _headers(text: str):  # type: ignore[no-untyped-def]
    return parse_headers(text.replace("\n", "\r\n").encode() + b"\r\n")


def test_top_most_authentication_results_counts_when_none_configured() -> None:
    h = _headers(
        "Authentication-Results: mx.nhs.net; dmarc=fail header.from=nhs.net\n"
        "Authentication-Results: other.example; dmarc=pass\n"
    )
    assert auth_verdict(h, ()) is AuthVerdict.FAIL


def test_only_our_authserv_id_is_trusted_when_configured() -> None:
    h = _headers(
        "Authentication-Results: forged.example; dmarc=pass\n"
        "Authentication-Results: mx.nhs.net (comment); dmarc=fail (p=reject) header.from=x\n"
    )
    assert auth_verdict(h, ("mx.nhs.net",)) is AuthVerdict.FAIL
    assert auth_verdict(h, ("elsewhere",)) is AuthVerdict.NONE


FORGED_BELOW_OURS = (
    "Authentication-Results: mx.nhs.net; dmarc=fail (p=reject) header.from=nhs.net\n"
    "Authentication-Results: mx.nhs.net; dmarc=pass header.from=nhs.net\n"
)


def test_a_forged_pass_below_our_fail_leaves_the_verdict_fail_and_is_flagged() -> None:
    """Battery 23: the forgery carries our id but sits below the field our MTA added."""
    h = _headers(FORGED_BELOW_OURS)
    assert auth_verdict(h, ("mx.nhs.net",)) is AuthVerdict.FAIL
    assert repeated_own_auth_results(h, ("MX.nhs.net",))


def test_one_field_with_our_id_among_other_relays_fields_is_not_flagged() -> None:
    h = _headers(
        "Authentication-Results: mx.nhs.net; dmarc=pass header.from=nhs.net\n"
        "Authentication-Results: relay.example; dmarc=fail\n"
    )
    assert not repeated_own_auth_results(h, ("mx.nhs.net",))
    assert not repeated_own_auth_results(_headers(FORGED_BELOW_OURS), ())  # no id: no rule


def test_a_repeated_field_with_our_id_makes_the_message_malformed() -> None:
    raw = (
        FORGED_BELOW_OURS.replace("\n", "\r\n")
        + "From: a.surgery@nhs.net\r\nSubject: Hello\r\n\r\nHello"
    ).encode()
    result = parse(raw, ParseOptions(authserv_ids=("mx.nhs.net",)))
    assert result.auth_verdict is AuthVerdict.FAIL
    assert result.has_problem("malformed_message")
    assert not parse(raw).has_problem("malformed_message")


def test_auto_submitted_and_list_headers_mark_automated_mail() -> None:
    assert is_automated(_headers("Auto-Submitted: auto-replied\n"), "x", None, report=False)
    assert is_automated(_headers("List-Id: <a.b>\n"), "x", None, report=False)
    assert is_automated(_headers("Precedence: bulk\n"), "x", None, report=False)
    assert not is_automated(_headers("Auto-Submitted: no\n"), "Hello", "a@nhs.net", report=False)


def test_bounce_sender_and_out_of_office_subject_mark_automated_mail() -> None:
    assert is_automated(_headers("X: y\n"), "hi", "mailer-daemon@mx.nhs.net", report=False)
    assert is_automated(_headers("X: y\n"), "Automatic reply: hello", "a@nhs.net", report=False)


@pytest.mark.parametrize(
    "value",
    [
        "ouseburn.surgery@nhs.net)<attacker@example.org>",  # CVE-2023-27043
        "<ouseburn.surgery@nhs.net>; <attacker@example.org>",
        "a@nhs.net, b@nhs.net",
        "=?UTF-8?Q?Ouseburn=0D=0ABcc:_evil@example.org?= <ouseburn.surgery@nhs.net>",
        "x" * 1200 + " <ouseburn.surgery@nhs.net>",
    ],
)
def test_an_ambiguous_from_gives_no_sender(value: str) -> None:
    assert sole_mailbox(value) is None


@pytest.mark.parametrize(
    ("value", "address"),
    [
        ('"ZAHRA, Fatima (OUSEBURN SURGERY)" <fatima.zahra@nhs.net>', "fatima.zahra@nhs.net"),
        ("=?utf-8?q?Zo=C3=AB_Hart?= <Zoe.Hart@nhs.net>", "zoe.hart@nhs.net"),
        ("ouseburn.surgery@nhs.net", "ouseburn.surgery@nhs.net"),
    ],
)
def test_a_single_plain_from_keeps_its_sender(value: str, address: str) -> None:
    mailbox = sole_mailbox(value)
    assert mailbox is not None and mailbox.address == address


@pytest.mark.parametrize(
    "header",
    [
        b"Precedence: auto_reply",
        b"List-Archive: <https://lists.example.org/x>",
        b"List-Help: <mailto:h@x>",
    ],
)
def test_any_list_field_or_an_auto_reply_precedence_marks_automated_mail(header: bytes) -> None:
    headers = parse_headers(b"From: a@nhs.net\r\n" + header + b"\r\n")
    assert is_automated(headers, "Hello", "a@nhs.net", report=False)


@pytest.mark.parametrize(
    ("value", "read"),
    [
        ("Tue, 04 Mar 2025 09:30:00 +0100", datetime(2025, 3, 4, 8, 30, tzinfo=UTC)),
        ("Tue, 04 Mar 2025 09:30:00 -0000", datetime(2025, 3, 4, 9, 30, tzinfo=UTC)),
        ("Fri, 31 Dec 9999 23:59:59 +0000", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("Fri, 31 Dec 9999 23:59:59 -2359", None),  # past the year 9999 once in UTC
        ("Sat, 01 Jan 10000 00:00:00 +0000", None),
        ("Fri, 31 Dec 2025 23:59:59 +9999", None),  # an offset of days
        ("Fri, 31 Dec 2025 99:99:99 +0000", None),
        ("Fri, 31 Dec " + "9" * 400 + " 23:59:59 +0000", None),
        ("next Tuesday", None),
        ("", None),
        (None, None),
    ],
)
def test_a_date_is_read_into_utc_or_not_at_all(value: str | None, read: datetime | None) -> None:
    assert parse_date(value) == read
    if read is not None:
        parsed = parse_date(value)
        assert parsed is not None and parsed.utcoffset() == timedelta(0)


def test_an_unreadable_date_is_flagged_and_a_missing_one_is_not() -> None:
    def problems(date_line: bytes) -> set[str]:
        raw = b"From: a.surgery@nhs.net\r\n" + date_line + b"Subject: Hi\r\n\r\nHello"
        return {p.code for p in parse(raw).problems}

    assert "malformed_message" in problems(b"Date: Fri, 31 Dec 9999 23:59:59 -2359\r\n")
    assert "malformed_message" in problems(b"Date: \r\n")
    assert "malformed_message" not in problems(b"")


@pytest.mark.parametrize("bad", ["<a\x00b@x>", "<a\x1bb@x>", "<a\x7fb@x>", "<" + "a" * 501 + ">"])
def test_a_message_id_with_a_control_character_or_over_500_characters_is_not_one(
    bad: str,
) -> None:
    assert message_id(bad) is None
    assert message_ids(f"{bad} <ok@x>") == ("<ok@x>",)
