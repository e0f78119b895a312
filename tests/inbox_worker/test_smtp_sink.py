"""The aiosmtpd sink keeps what it accepts, writes it to its folder, and can refuse on demand."""

from __future__ import annotations

import smtplib

import pytest

from tests.servers import SmtpSink

pytestmark = pytest.mark.smtp


def test_the_sink_keeps_each_accepted_message_with_its_envelope(smtp_sink: SmtpSink) -> None:
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as client:
        client.sendmail("from@example.org", ["to@nhs.net"], b"Subject: hi\r\n\r\nbody\r\n")
    [mail] = smtp_sink.received
    assert mail.mail_from == "from@example.org"
    assert mail.rcpt_tos == ("to@nhs.net",)
    assert mail.message()["Subject"] == "hi"
    assert smtp_sink.handler.folder is not None
    assert [p.name for p in smtp_sink.handler.folder.iterdir()] == ["00001.eml"]


def test_the_sink_refuses_with_the_reply_it_was_given_and_keeps_nothing(
    smtp_sink: SmtpSink,
) -> None:
    smtp_sink.refuse_with("451 4.3.0 try again later")
    with (
        smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as client,
        pytest.raises(smtplib.SMTPDataError) as refused,
    ):
        client.sendmail("from@example.org", ["to@nhs.net"], b"Subject: hi\r\n\r\nbody\r\n")
    assert refused.value.smtp_code == 451
    assert smtp_sink.received == []


def test_two_sinks_get_different_free_ports() -> None:
    with SmtpSink() as first, SmtpSink() as second:
        assert first.port != second.port
