"""Certificate checks are on by default: STARTTLS to IMAP and SMTP works with a trusted CA only."""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from pcse_intake.config import MailboxSettings, SmtpSettings
from pcse_intake.inbox_worker.imap_source import ImapMailbox
from pcse_intake.inbox_worker.outbox_job import send_outbox
from pcse_intake.inbox_worker.smtp_sender import SmtpMailer, TemporaryFailure
from tests.conftest import TestDatabase
from tests.inbox_worker.support import test_settings
from tests.inbox_worker.test_outbox_job import T0, _queue
from tests.servers import EmbeddedImap, SmtpSink


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_pymap(ca: trustme.CA, tmp_path: Path) -> Iterator[EmbeddedImap]:
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "cert.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    with EmbeddedImap(
        username="testuser",
        password="testpass",
        cert_file=str(tmp_path / "cert.pem"),
        key_file=str(tmp_path / "key.pem"),
    ) as server:
        yield server


def _mailbox(server: EmbeddedImap, context: ssl.SSLContext | None) -> ImapMailbox:
    settings = MailboxSettings(
        host=server.host, port=server.port, security="starttls", username=server.username
    )
    return ImapMailbox(settings, password=server.password, ssl_context=context)


@pytest.mark.imap
def test_imap_starttls_succeeds_when_the_servers_certificate_is_trusted(
    tls_pymap: EmbeddedImap, ca: trustme.CA
) -> None:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    mailbox = _mailbox(tls_pymap, context)
    try:
        assert mailbox.open() > 0
    finally:
        mailbox.close()


@pytest.mark.imap
def test_imap_starttls_refuses_a_certificate_the_system_does_not_trust(
    tls_pymap: EmbeddedImap,
) -> None:
    mailbox = _mailbox(tls_pymap, None)  # the default: the system's trust store
    with pytest.raises(ssl.SSLCertVerificationError):
        mailbox.open()
    mailbox.close()


@pytest.mark.smtp
def test_smtp_starttls_sends_only_to_a_trusted_certificate(
    ca: trustme.CA, sqlite_database: TestDatabase
) -> None:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    trusted = ssl.create_default_context()
    ca.configure_trust(trusted)
    with SmtpSink(tls_context=server_context) as sink:
        smtp = SmtpSettings(host=sink.host, port=sink.port, security="starttls")
        with pytest.raises(TemporaryFailure, match="CERTIFICATE_VERIFY_FAILED"):
            SmtpMailer(smtp).__enter__()
        settings = dataclasses.replace(test_settings(sqlite_database.url), smtp=smtp)
        _queue(sqlite_database.sessions, 1)
        report = send_outbox(
            sqlite_database.sessions,
            lambda: SmtpMailer(smtp, ssl_context=trusted),
            settings=settings,
            now=lambda: T0,
        )
        assert report.sent == 1 and len(sink.received) == 1
