"""Reading bounces: which of our messages came back, to whom and why; bounded on any bytes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pcse_intake.parsers import bounce as bounce_module
from pcse_intake.parsers.bounce import MAX_IDS, MAX_RECIPIENTS, BounceInfo, read_bounce

AUTOMATED = Path(__file__).resolve().parent.parent / "data" / "automated"
FLUFL = sorted((Path(__file__).resolve().parent.parent / "data" / "flufl_bounce").glob("*.txt"))
# In the flufl.bounce corpus: an auto-reply and a list moderation notice, not bounces.
FLUFL_NOT_BOUNCES = {"qmail_08.txt", "microsoft_03.txt"}
DSNS = ("dsn_postfix.eml", "dsn_exchange_ndr.eml", "qmail_failure_notice.eml")
OURS = b"<0123456789abcdef0123456789abcdef@nhs.net>"


def _fixture(name: str) -> bytes:
    return (AUTOMATED / name).read_bytes().replace(b"<IN-REPLY-TO>", OURS)


def _report(*, action: str, status: str, returned: str, cte: str = "7bit") -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.nhs.net>\r\n"
        "To: bounces.pcse@nhs.net\r\nSubject: Delivery Status Notification\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type="delivery-status";'
        ' boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain\r\n\r\nYour message is delayed or failed.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.nhs.net\r\nOriginal-Envelope-Id: PCSE-42\r\n\r\n"
        f"Final-Recipient: rfc822; greenlane.admin@nhs.net\r\nAction: {action}\r\n"
        f"Status: {status}\r\nDiagnostic-Code: smtp; 452 mailbox full\r\n\r\n"
        f"--b1\r\nContent-Type: text/rfc822-headers\r\nContent-Transfer-Encoding: {cte}\r\n\r\n"
        f"{returned}\r\n--b1--\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("name", "recipient", "status"),
    [
        ("dsn_postfix.eml", "ouseburn.admin@nhs.net", "5.1.10"),
        ("dsn_exchange_ndr.eml", "ouseburn.surgery@nhs.net", "5.1.1"),
        ("qmail_failure_notice.eml", "ouseburn.surgery@nhs.net", "5.1.1"),
    ],
)
def test_each_kind_of_bounce_names_the_message_it_returns(
    name: str, recipient: str, status: str
) -> None:
    bounce = read_bounce(_fixture(name))
    assert bounce is not None and bounce.failed
    assert bounce.returned_ids[0] == OURS.decode()
    assert bounce.recipients == (recipient,)
    assert bounce.status == status
    assert recipient in bounce.reason() and "failed" in bounce.reason()


def test_an_exim_failure_is_read_from_x_failed_recipients_and_the_quoted_copy() -> None:
    raw = (
        b"Return-path: <>\r\nFrom: Mail Delivery System <Mailer-Daemon@mail.example.org>\r\n"
        b"To: bounces.pcse@nhs.net\r\n"
        b"Subject: Mail delivery failed: returning message to sender\r\n"
        b"X-Failed-Recipients: practice.manager@example.org\r\nAuto-Submitted: auto-replied\r\n"
        b"\r\nThis message was created automatically by mail delivery software.\r\n\r\n"
        b"A message that you sent could not be delivered to one or more of its\r\n"
        b"recipients. This is a permanent error.\r\n\r\n  practice.manager@example.org\r\n"
        b"    Unrouteable address\r\n\r\n"
        b"------ This is a copy of the message, including all the headers. ------\r\n\r\n"
        b"From: PCSE Data Management <pcse.datamanager@nhs.net>\r\nMessage-Id: " + OURS + b"\r\n"
    )
    bounce = read_bounce(raw)
    assert bounce is not None and bounce.failed
    assert bounce.returned_ids == (OURS.decode(),)
    assert bounce.recipients == ("practice.manager@example.org",)


def test_a_delay_notice_is_read_but_is_not_a_failure() -> None:
    bounce = read_bounce(_report(action="delayed", status="4.4.7", returned="Message-ID: <a@b>"))
    assert bounce is not None and not bounce.failed
    assert bounce.action == "delayed" and bounce.status == "4.4.7"
    assert bounce.envelope_id == "PCSE-42"
    assert bounce.diagnostic == "452 mailbox full"


def test_a_base64_header_block_of_the_returned_message_is_decoded() -> None:
    import base64

    block = base64.b64encode(b"Subject: x\r\nMessage-ID: " + OURS + b"\r\n").decode()
    bounce = read_bounce(_report(action="failed", status="5.2.2", returned=block, cte="base64"))
    assert bounce is not None and bounce.returned_ids == (OURS.decode(),)


def test_the_bounce_threading_ids_follow_the_returned_one() -> None:
    raw = _fixture("dsn_postfix.eml").replace(
        b"Message-Id: <2026", b"In-Reply-To: <earlier@nhs.net>\r\nMessage-Id: <2026"
    )
    bounce = read_bounce(raw)
    assert bounce is not None
    assert bounce.returned_ids == (OURS.decode(), "<earlier@nhs.net>")


@pytest.mark.parametrize(
    "path",
    [p for p in sorted(AUTOMATED.glob("*.eml")) if p.name not in DSNS],
    ids=lambda p: p.stem,
)
def test_auto_replies_lists_and_our_own_mail_are_not_bounces(path: Path) -> None:
    assert read_bounce(path.read_bytes()) is None


def test_a_practice_writing_about_an_undeliverable_address_is_not_a_bounce() -> None:
    raw = (
        b"From: Ouseburn Surgery <ouseburn.surgery@nhs.net>\r\nSubject: Undeliverable e-mails\r\n"
        b"Message-ID: <q@nhs.net>\r\n\r\nOur old address bounces; please change it.\r\n"
    )
    assert read_bounce(raw) is None


def test_the_real_bounces_of_the_flufl_bounce_corpus_are_recognised() -> None:
    """117 real bounces and auto-replies (tests/data/flufl_bounce/README.md): 104 read as
    bounces today; the rest are odd gateways' free text. The two that are not bounces stay
    out. A ratchet: the count may only go up."""
    assert len(FLUFL) == 117
    found = {p.name: bounce_module._read(p.read_bytes()) for p in FLUFL}
    assert sum(b is not None for b in found.values()) >= 104
    assert all(found[name] is None for name in FLUFL_NOT_BOUNCES)
    assert sum(b is not None and b.failed and bool(b.recipients) for b in found.values()) >= 42


def test_a_crafted_bounce_is_read_within_its_caps() -> None:
    ids = b"".join(b"Message-ID: <m%d@x.org>\r\n" % n for n in range(5000))
    rcpts = b"".join(b"<r%d@x.org>:\r\nno such user\r\n\r\n" % n for n in range(5000))
    raw = (
        b"From: MAILER-DAEMON@x.org\r\nReturn-Path: <>\r\nSubject: failure notice\r\n\r\n"
        + rcpts
        + ids
    )
    bounce = read_bounce(raw)
    assert bounce is not None
    assert len(bounce.returned_ids) <= MAX_IDS and len(bounce.recipients) <= MAX_RECIPIENTS


def test_deeply_nested_reports_stop_at_the_depth_cap() -> None:
    depth = 5000
    head = b"".join(
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b%d"\r\n\r\n'
        b"--b%d\r\n" % (n, n)
        for n in range(depth)
    )
    raw = b"From: MAILER-DAEMON@x.org\r\nSubject: Undeliverable\r\n" + head + b"x\r\n"
    bounce = read_bounce(raw)
    assert bounce is not None and bounce.returned_ids == ()


def _valid(raw: bytes) -> bool:
    # The inner reader, not `read_bounce`: its last-resort handler would hide a defect.
    result: BounceInfo | None = bounce_module._read(raw)
    return result is None or (
        isinstance(result.returned_ids, tuple) and len(result.returned_ids) <= MAX_IDS
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_random_bytes_give_a_bounce_or_none(raw: bytes) -> None:
    assert _valid(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(DSNS),
    st.integers(min_value=0, max_value=5000),
    st.binary(min_size=1, max_size=200),
)
def test_corrupted_bounces_give_a_bounce_or_none(name: str, at: int, junk: bytes) -> None:
    sample = _fixture(name)
    at = at % len(sample)
    assert _valid(sample[:at] + junk + sample[at + len(junk) :])


REPORT_PIECES = st.sampled_from(
    [
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n",
        b"Content-Type: message/delivery-status\r\n",
        b"Content-Type: text/rfc822-headers\r\n",
        b"Content-Type: message/rfc822\r\n",
        b"Content-Transfer-Encoding: base64\r\n",
        b"From: MAILER-DAEMON@x.org\r\nSubject: Undeliverable\r\n",
        b'X-Failed-Recipients: a@b, ,,<>, "x" <c@d>\r\n',
        b"Final-Recipient: rfc822;\r\nAction: failed\r\nStatus: 5.\r\n",
        b"Message-ID: <" + b"x" * 600 + b">\r\n",
        b"<a@b>:\r\n",
        b"\r\n",
        b"--b\r\n",
        b"--b--\r\n",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(REPORT_PIECES, max_size=40))
def test_shuffled_report_pieces_give_a_bounce_or_none(pieces: list[bytes]) -> None:
    assert _valid(b"".join(pieces))
