"""`poll --once` and `outbox send` as real processes against real IMAP and SMTP servers."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import select

from pcse_intake.workflows.db import make_engine, make_sessionmaker
from pcse_intake.workflows.models import InboundMessage, MessageStatus, OutboxMessage, Request
from tests.inbox_worker.support import cli, folder_counts, sample_messages, write_config
from tests.servers import (
    DovecotServer,
    EmbeddedImap,
    ImapAccount,
    SmtpSink,
    pymap_account,
    seed_mailbox,
)

# 001 and 002 ask for something but miss details, 003 and 020 are complete, 005 is a bounce.
PICKED = ("001", "002", "003", "005", "020")


def _picked() -> list[bytes]:
    by_name = dict(zip([f"{n:03d}" for n in range(1, 41)], sample_messages(), strict=True))
    return [by_name[name] for name in PICKED]


@pytest.fixture(
    params=[
        pytest.param("pymap", marks=pytest.mark.imap),
        pytest.param("dovecot", marks=pytest.mark.dovecot),
    ]
)
def imap_account(request: pytest.FixtureRequest) -> Iterator[ImapAccount]:
    """The same tests against pymap (embedded) and Dovecot (Debian's)."""
    if request.param == "pymap":
        with EmbeddedImap(username="testuser", password="testpass") as pymap:
            yield pymap_account(pymap)
    else:
        with DovecotServer() as dovecot:
            yield dovecot.account


def _seed(account: ImapAccount, messages: list[bytes]) -> None:
    seed_mailbox(
        host=account.host,
        port=account.port,
        username=account.username,
        password=account.password,
        messages=messages,
    )


@pytest.mark.smtp
def test_poll_records_moves_and_acknowledges_once_with_the_right_headers(
    imap_account: ImapAccount, smtp_sink: SmtpSink, tmp_path: Path, sqlite_url: str
) -> None:
    config = write_config(tmp_path, sqlite_url, imap_account, smtp_sink)
    assert cli(config, "db", "upgrade").returncode == 0
    originals = _picked()
    _seed(imap_account, originals)

    polled = cli(config, "poll", "--once", imap=imap_account)
    assert polled.returncode == 0, polled.stderr
    assert "5 recorded" in polled.stdout
    sent = cli(config, "outbox", "send")
    assert sent.returncode == 0, sent.stderr

    assert folder_counts(imap_account, "INBOX", "Processed") == {"INBOX": 0, "Processed": 5}
    sessions = make_sessionmaker(make_engine(sqlite_url))
    with sessions() as session:
        messages = session.scalars(select(InboundMessage)).all()
        requests = session.scalars(select(Request)).all()
        outbox = session.scalars(select(OutboxMessage)).all()
        bounce = next(m for m in messages if m.sender == "mailer-daemon@mx.nhs.net")
        assert bounce.status == MessageStatus.AUTOMATED
        assert len(messages) == 5 and len(requests) == 4
        assert {o.status for o in outbox} == {"sent"}
    # Each practice got exactly one reply, threaded to its own message, marked automatic.
    their_ids = {
        message_from_bytes(raw, policy=policy.default)["Message-ID"]: raw for raw in originals
    }
    received = smtp_sink.received
    assert len(received) == len(outbox) == 4
    for mail in received:
        reply = mail.message()
        assert reply["In-Reply-To"] in their_ids
        assert reply["In-Reply-To"] in reply["References"]
        assert reply["Auto-Submitted"] == "auto-replied"
        assert reply["X-Auto-Response-Suppress"] == "All"
        assert "PCSE-" in reply["Subject"]
        assert mail.rcpt_tos[0] != "mailer-daemon@mx.nhs.net"
    assert len({m.rcpt_tos for m in received}) == 4

    # The same mail appended again, polled and sent again: nothing new anywhere.
    _seed(imap_account, originals)
    again = cli(config, "poll", "--once", imap=imap_account)
    assert again.returncode == 0 and "0 recorded, 5 already known" in again.stdout
    assert cli(config, "outbox", "send").returncode == 0
    assert len(smtp_sink.received) == 4
    with sessions() as session:
        assert len(session.scalars(select(InboundMessage)).all()) == 5
        assert len(session.scalars(select(OutboxMessage)).all()) == 4
    assert folder_counts(imap_account, "INBOX", "Processed") == {"INBOX": 0, "Processed": 10}


@pytest.mark.imap
def test_poll_exits_2_with_one_line_when_the_server_refuses_connections(
    tmp_path: Path, sqlite_url: str
) -> None:
    from pcse_intake.inbox_worker.smtp_sink import free_port

    nowhere = ImapAccount("127.0.0.1", free_port(), "testuser", "testpass")
    config = write_config(tmp_path, sqlite_url, nowhere, mailbox={"timeout_seconds": 5})
    assert cli(config, "db", "upgrade").returncode == 0
    result = cli(config, "poll", "--once", imap=nowhere)
    assert result.returncode == 2
    [line] = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert "ConnectionRefusedError" in line


def test_poll_refuses_plain_imap_to_a_remote_host_as_a_config_error(
    tmp_path: Path, sqlite_url: str
) -> None:
    remote = ImapAccount("imap.example.org", 143, "user", "secret")
    config = write_config(tmp_path, sqlite_url, remote)
    result = cli(config, "poll", "--once", imap=remote)
    assert result.returncode == 2
    assert "allowed only on loopback" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_poll_without_the_password_variable_is_a_config_error(
    tmp_path: Path, sqlite_url: str
) -> None:
    account = ImapAccount("127.0.0.1", 1, "user", "secret")
    config = write_config(tmp_path, sqlite_url, account)
    result = cli(config, "poll", "--once", env={"PCSE_TEST_IMAP_PASSWORD": ""})
    assert result.returncode == 2
    assert "PCSE_TEST_IMAP_PASSWORD is not set" in result.stderr
