"""Battery section 4 (cases 42, 43, 46): malformed input, repeated identity headers, and
log injection."""

from __future__ import annotations

import io
import json
import logging

import pytest

from pcse_intake.inbox_worker.logs import JsonLineFormatter, event
from pcse_intake.parsers import RequestKind, parse
from pcse_intake.workflows.models import MessageStatus
from tests.conftest import TestDatabase
from tests.hardening.conftest import email_change_raw, ingest

BASE = email_change_raw()
PLAIN = b"Content-Type: text/plain; charset=utf-8\r\n"

MALFORMED = {
    "bom": b"\xef\xbb\xbf" + BASE,
    "bare_lf": BASE.replace(b"\r\n", b"\n"),
    "bare_cr": BASE.replace(b"\r\n", b"\r"),
    "raw_8bit_utf8_subject": BASE.replace(
        b"address\r\nMessage-ID", "address \u2013 Ouseburn\r\nMessage-ID".encode()
    ),
    "raw_8bit_latin1_subject": BASE.replace(
        b"address\r\nMessage-ID", "address caf\xe9\r\nMessage-ID".encode("latin-1")
    ),
    "nul_in_body": BASE.replace(b"Please update", b"Please\x00 update"),
    "nul_in_header": BASE.replace(b"Subject: Update", b"Subject: Up\x00date"),
    "bad_base64": BASE.replace(PLAIN, PLAIN + b"Content-Transfer-Encoding: base64\r\n"),
    "bad_quoted_printable": BASE.replace(
        PLAIN, PLAIN + b"Content-Transfer-Encoding: quoted-printable\r\n"
    ).replace(b"Thanks", b"Thanks =ZZ =\r\n=4"),
    "missing_closing_boundary": BASE.replace(
        PLAIN, b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n' + PLAIN
    ),
    "headers_only": BASE.split(b"\r\n\r\n", 1)[0],
    "empty": b"",
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_input_never_crashes_and_parses_the_same_twice(
    ready: TestDatabase, raw: bytes
) -> None:
    first, second = parse(raw).to_json(), parse(raw).to_json()
    assert first == second  # deterministic
    result = ingest(ready, raw)  # stored and filed, never an exception
    assert result.status in {MessageStatus.REQUEST, MessageStatus.TRIAGE}


def test_a_raw_utf8_subject_is_read_as_utf8() -> None:
    """RFC 6532: SMTPUTF8 servers send header text as raw UTF-8, not encoded words."""
    assert parse(MALFORMED["raw_8bit_utf8_subject"]).subject.endswith("\u2013 Ouseburn")


def test_a_raw_8bit_subject_mixed_with_an_encoded_word_reads_both() -> None:
    raw = b"From: a.surgery@nhs.net\r\nSubject: =?utf-8?q?caf=C3=A9?= \xc3\xa9t\xc3\xa9\r\n\r\nHi"
    assert parse(raw).subject == "caf\u00e9 \u00e9t\u00e9"


def test_a_raw_windows_1252_subject_is_read_as_windows_1252() -> None:
    raw = b"From: a.surgery@nhs.net\r\nSubject: Caf\xe9 \x96 closed\r\n\r\nHi"
    assert parse(raw).subject == "Caf\u00e9 \u2013 closed"


REPEATED = {
    "From": (b"From: Ouseburn Surgery", b"From: attacker@gmail.com\r\nFrom: Ouseburn Surgery"),
    "Subject": (b"Subject:", b"Subject: Hello\r\nSubject:"),
    "Message-ID": (b"Message-ID:", b"Message-ID: <other@example.org>\r\nMessage-ID:"),
    "Content-Type": (b"Content-Type:", b"Content-Type: text/html\r\nContent-Type:"),
}


@pytest.mark.parametrize("header", REPEATED)
def test_repeated_identity_headers_are_flagged_and_not_used(header: str) -> None:
    old, new = REPEATED[header]
    result = parse(BASE.replace(old, new, 1))
    assert result.has_problem("malformed_message")  # flagged, never silent last-wins
    used = {"From": result.sender, "Subject": result.subject, "Message-ID": result.message_id}
    if header in used:
        assert not used[header]  # neither value is taken for identity
    assert parse(BASE).sender and parse(BASE).message_id  # ... as they are without a repeat


FORGED = "2025-01-01 INFO request 42 approved"


@pytest.mark.parametrize("brk", ["\n", "\r\n", "\r", "\x85", "\u2028", "\u2029", "\x0b"])
def test_a_forged_log_line_in_a_subject_is_one_event(brk: str) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLineFormatter())
    logger = logging.getLogger(f"hardening.logs.{id(stream)}")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    subject = f"foo{brk}{FORGED}"
    event(logger, "message_recorded", subject=subject, uid=42)
    logger.warning("refused by the workflow: %s", subject)  # a plain, interpolated record
    lines = stream.getvalue().splitlines()  # as a log shipper or `str.splitlines` reads it
    assert len(lines) == 2
    assert json.loads(lines[0])["subject"] == subject
    assert json.loads(lines[1])["event"] == f"refused by the workflow: {subject}"


def test_the_fixtures_really_are_email_changes_when_well_formed() -> None:
    assert parse(BASE).kind is RequestKind.EMAIL_CHANGE and not parse(BASE).problems
