"""Polling a real IMAP server: record, then move; a second poll duplicates nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from imapclient import IMAPClient
from sqlalchemy import select

from pcse_intake.inbox_worker.imap_source import FetchedMessage, ImapMailbox
from pcse_intake.inbox_worker.parse_pool import MIN_BATCH
from pcse_intake.inbox_worker.poller import Poller, batches_by_size
from pcse_intake.parsers import parse
from pcse_intake.workflows.intake import parse_options
from pcse_intake.workflows.models import InboundMessage, MessageStatus, OutboxMessage, Request
from tests.conftest import TestDatabase
from tests.inbox_worker.support import (
    counts,
    fixed_now,
    folder_counts,
    mailbox_for,
    sample_messages,
    test_settings,
)
from tests.servers import DovecotServer, EmbeddedImap, pymap_account, seed_mailbox


def _seed(server: EmbeddedImap, messages: list[bytes]) -> None:
    seed_mailbox(
        host=server.host,
        port=server.port,
        username=server.username,
        password=server.password,
        messages=messages,
    )


@pytest.mark.imap
def test_a_poll_records_every_message_then_moves_it_and_a_second_poll_adds_nothing(
    pymap_server: EmbeddedImap, sqlite_database: TestDatabase
) -> None:
    account = pymap_account(pymap_server)
    _seed(pymap_server, sample_messages(8))
    settings = test_settings(sqlite_database.url, account, batch_size=3)
    poller = Poller(
        mailbox_for(settings, account),
        sqlite_database.sessions,
        settings=settings,
        now=lambda: datetime.now(UTC),
    )
    try:
        first = poller.poll()
        after_first = counts(sqlite_database.sessions)
        second = poller.poll()
    finally:
        poller.close()
    assert (first.seen, first.recorded, first.moved) == (8, 8, 8)
    assert after_first[0] == 8 and after_first[1] >= 1
    assert (second.seen, second.recorded) == (0, 0)
    assert counts(sqlite_database.sessions) == after_first
    assert folder_counts(account, "INBOX", "Processed", "Quarantine") == {
        "INBOX": 0,
        "Processed": 8,
        "Quarantine": 0,
    }
    with sqlite_database.sessions() as session:
        stored = session.query(InboundMessage).all()
        assert all(m.raw and m.uid and m.mailbox == "testuser/INBOX" for m in stored)
        assert all(m.status != MessageStatus.RECEIVED for m in stored)


@pytest.mark.imap
def test_with_a_parse_helper_each_message_is_filed_as_its_own_parse_says(
    pymap_server: EmbeddedImap, sqlite_database: TestDatabase
) -> None:
    account = pymap_account(pymap_server)
    raws = sample_messages(MIN_BATCH + 2)
    _seed(pymap_server, raws)
    settings = test_settings(sqlite_database.url, account, batch_size=len(raws))
    poller = Poller(
        mailbox_for(settings, account),
        sqlite_database.sessions,
        settings=settings,
        now=lambda: datetime.now(UTC),
        parse_processes=1,
    )
    try:
        report = poller.poll()
        assert poller.parse_pool.started  # the batch went through the helper
    finally:
        poller.close()
    assert (report.recorded, report.moved) == (len(raws), len(raws))
    with sqlite_database.sessions() as session:
        rows = list(session.scalars(select(InboundMessage).order_by(InboundMessage.uid)))
    options = parse_options(settings)
    expected = [parse(raw, options) for raw in raws]
    assert [(r.kind, r.sender, r.subject) for r in rows] == [
        (p.kind.value, p.sender or None, p.subject or None) for p in expected
    ]


@pytest.mark.imap
def test_a_backlog_older_than_the_limit_is_recorded_but_not_acknowledged(
    pymap_server: EmbeddedImap, sqlite_database: TestDatabase
) -> None:
    account = pymap_account(pymap_server)
    old, new = sample_messages(4)[2], sample_messages(20)[19]  # two complete requests
    seed_mailbox(
        host=account.host,
        port=account.port,
        username=account.username,
        password=account.password,
        messages=[old],
        internal_date=datetime.now(UTC) - timedelta(days=10),
    )
    _seed(pymap_server, [new])
    settings = test_settings(sqlite_database.url, account, backlog_ack_max_age_hours=72.0)
    poller = Poller(
        mailbox_for(settings, account),
        sqlite_database.sessions,
        settings=settings,
        now=lambda: datetime.now(UTC),
    )
    try:
        report = poller.poll()
    finally:
        poller.close()
    assert report.recorded == 2
    with sqlite_database.sessions() as session:
        requests = session.scalars(select(Request).order_by(Request.id)).all()
        replies = session.scalars(select(OutboxMessage)).all()
    assert len(requests) == 2
    # Only the fresh message was acknowledged; the old one is recorded and waits for staff.
    assert [r.request_id for r in replies] == [requests[1].id]


@pytest.mark.dovecot
def test_without_move_only_our_uid_is_expunged_and_another_clients_deleted_mail_survives(
    dovecot_server: DovecotServer,
) -> None:
    account = dovecot_server.account
    seed_mailbox(
        host=account.host,
        port=account.port,
        username=account.username,
        password=account.password,
        messages=[b"Subject: ours\r\n\r\n1\r\n", b"Subject: theirs\r\n\r\n2\r\n"],
    )
    with IMAPClient(account.host, account.port, ssl=False, timeout=10) as other:
        other.login(account.username, account.password)
        other.select_folder("INBOX")
        theirs = max(other.search(["ALL"]))
        other.add_flags([theirs], [b"\\Deleted"])  # another client's pending deletion
    settings = test_settings("sqlite://", account)
    mailbox = ImapMailbox(settings.mailbox, password=account.password)
    mailbox.open()
    try:
        mailbox._can_move = False  # behave as on a server without RFC 6851 MOVE
        [ours] = mailbox.search()  # \Deleted mail is not ours to take
        mailbox.move([ours], "Processed")
    finally:
        mailbox.close()
    with IMAPClient(account.host, account.port, ssl=False, timeout=10) as check:
        check.login(account.username, account.password)
        check.select_folder("INBOX")
        assert check.search(["ALL"]) == [theirs]  # still there, still flagged
        assert check.select_folder("Processed")[b"EXISTS"] == 1


AUTOMATED = [
    # RFC 3834 auto-reply
    b"From: Jo Bloggs <jo.bloggs@nhs.net>\r\nTo: pcse.datamanager@nhs.net\r\n"
    b"Subject: Out of office\r\nMessage-ID: <oof-1@nhs.net>\r\nAuto-Submitted: auto-replied\r\n"
    b"\r\nI am away until Monday. Please change our practice email, ODS A12345.\r\n",
    # Exchange's out-of-office without Auto-Submitted
    b"From: Sam Lee <sam.lee@nhs.net>\r\nTo: pcse.datamanager@nhs.net\r\n"
    b"Subject: Automatic reply: PCSE-000001: we have received your request\r\n"
    b"Message-ID: <oof-2@nhs.net>\r\nX-Auto-Response-Suppress: All\r\n"
    b"X-MS-Exchange-Inbox-Rules-Loop: sam.lee@nhs.net\r\n\r\nI am on leave.\r\n",
    # our own mail coming back
    b"From: PCSE Data Management <pcse.datamanager@nhs.net>\r\nTo: pcse.datamanager@nhs.net\r\n"
    b"Subject: PCSE-000001: we have received your request\r\nMessage-ID: <ours-1@nhs.net>\r\n"
    b"\r\nThank you for your e-mail.\r\n",
]


@pytest.mark.imap
def test_automated_mail_is_recorded_and_moved_but_never_answered(
    pymap_server: EmbeddedImap, sqlite_database: TestDatabase
) -> None:
    account = pymap_account(pymap_server)
    _seed(pymap_server, AUTOMATED)
    settings = test_settings(sqlite_database.url, account)
    poller = Poller(
        mailbox_for(settings, account),
        sqlite_database.sessions,
        settings=settings,
        now=lambda: datetime.now(UTC),
    )
    try:
        report = poller.poll()
    finally:
        poller.close()
    assert (report.recorded, report.moved) == (3, 3)
    with sqlite_database.sessions() as session:
        statuses = session.scalars(select(InboundMessage.status)).all()
        assert session.scalars(select(OutboxMessage)).all() == []
    assert sorted(statuses) == [MessageStatus.AUTOMATED] * 3


def test_a_batch_ends_at_its_byte_limit_and_a_bigger_message_goes_alone() -> None:
    sizes = {1: 30, 2: 30, 3: 50, 4: 200, 5: 10, 6: 10}
    batches = list(batches_by_size([1, 2, 3, 4, 5, 6], sizes, count=3, max_bytes=100))
    assert batches == [[1, 2], [3], [4], [5, 6]]
    assert list(batches_by_size([1, 2, 5, 6], sizes, count=3, max_bytes=1000)) == [
        [1, 2, 5],
        [6],
    ]


class CountingMailbox(ImapMailbox):
    """The real IMAP mailbox, noting how many messages each FETCH of bodies asked for."""

    fetched: list[int]

    def fetch(self, uids: Sequence[int]) -> list[FetchedMessage]:
        self.fetched.append(len(uids))
        return super().fetch(uids)


@pytest.mark.imap
def test_big_messages_are_fetched_a_few_at_a_time_and_all_recorded(
    pymap_server: EmbeddedImap, sqlite_database: TestDatabase
) -> None:
    """Battery 37: a batch holds at most `batch_max_megabytes` of mail, whatever its count."""
    account = pymap_account(pymap_server)
    padding = b"\r\n" + (b"x" * 76 + b"\r\n") * 4000  # about 300 KB after each sample
    _seed(pymap_server, [raw + padding for raw in sample_messages(4)])
    settings = test_settings(sqlite_database.url, account, batch_max_megabytes=0.5)
    mailbox = CountingMailbox(settings.mailbox, password=account.password)
    mailbox.fetched = []
    poller = Poller(mailbox, sqlite_database.sessions, settings=settings, now=fixed_now)
    try:
        report = poller.poll()
    finally:
        poller.close()
    assert (report.seen, report.recorded, report.moved) == (4, 4, 4)
    assert mailbox.fetched == [1, 1, 1, 1]  # two would pass half a megabyte
