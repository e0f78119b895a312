"""Polling a real IMAP server: record, then move; a second poll duplicates nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pcse_intake.inbox_worker.poller import Poller
from pcse_intake.workflows.models import InboundMessage, MessageStatus
from tests.conftest import TestDatabase
from tests.inbox_worker.support import (
    counts,
    folder_counts,
    mailbox_for,
    sample_messages,
    test_settings,
)
from tests.servers import EmbeddedImap, pymap_account, seed_mailbox

pytestmark = pytest.mark.imap


def _seed(server: EmbeddedImap, messages: list[bytes]) -> None:
    seed_mailbox(
        host=server.host,
        port=server.port,
        username=server.username,
        password=server.password,
        messages=messages,
    )


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
