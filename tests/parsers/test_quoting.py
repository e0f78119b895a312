"""quoting.py: what the sender wrote, apart from quoted history, signatures, disclaimers."""

from __future__ import annotations

from pcse_intake.parsers.quoting import read_body


def test_on_wrote_and_angle_quotes_are_cut() -> None:
    text = "New: x@nhs.net\n\nOn Mon, 3 Mar 2025, PCSE wrote:\n> Old: y@nhs.net"
    assert read_body(text, "RE: hi").own == "New: x@nhs.net"


def test_outlook_header_block_in_a_reply_is_history() -> None:
    text = "Thanks\n\nFrom: A <a@nhs.net>\nSent: 1 May 2025\nTo: B\nSubject: s\n\nold text"
    reading = read_body(text, "RE: s")
    assert "old text" not in reading.own and reading.forwarded == ""


def test_forwarded_request_is_kept_as_the_request() -> None:
    text = (
        "Please see below.\n\n________________________________\nFrom: R <r@nhs.net>\n"
        "Sent: 23 April 2025 18:30\nTo: W\nSubject: new mailbox\n\nPractice code: J81 876\n\nRowan"
    )
    reading = read_body(text, "FW: new mailbox")
    assert "Practice code: J81 876" in reading.forwarded


def test_signature_after_a_valediction_is_set_aside() -> None:
    text = "Please update.\n\nKind regards\nGail\nFloor 5, 100 Temple Street, Bristol, BS1 6AG"
    reading = read_body(text, "x")
    assert reading.own == "Please update."
    assert "BS1 6AG" in reading.signature


def test_nhsmail_disclaimer_is_removed() -> None:
    text = (
        "Practice code: A12345\n\n-----\nThis e-mail and any files are confidential. If it "
        "reached you by mistake, delete it. Messages to or from NHSmail may be monitored."
    )
    assert read_body(text, "x").own == "Practice code: A12345"


def test_sender_signing_with_their_name_starts_the_signature() -> None:
    text = "Please set us up.\n\nBarry Hewitt\nPractice Manager\n0113 496 0000"
    assert read_body(text, "x", ("Barry Hewitt", "Barry")).own == "Please set us up."


def test_see_below_over_a_header_block_reads_as_a_forward_without_fw_subject() -> None:
    text = (
        "Please see below.\n\nFrom: A <a@nhs.net>\nSent: 1 May 2025\nSubject: s\n\nODS code: FH7K2"
    )
    assert "FH7K2" in read_body(text, "New pharmacy").forwarded


def test_a_reply_never_reads_its_history_as_the_request() -> None:
    text = "See below.\n\nFrom: A <a@nhs.net>\nSent: 1 May 2025\nSubject: s\n\nODS code: FH7K2"
    assert read_body(text, "RE: New pharmacy").forwarded == ""
