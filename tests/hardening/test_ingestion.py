"""Battery section 1 (cases 2, 7, 11, 12): a fetch never marks mail seen, the database down
moves nothing, stored raw rebuilds the same request, and a database error half-way leaves
nothing behind."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from pcse_intake.inbox_worker.poller import Poller
from pcse_intake.parsers import parse
from pcse_intake.workflows.db import make_engine, make_sessionmaker
from pcse_intake.workflows.migrate import upgrade
from pcse_intake.workflows.models import HistoryEntry, InboundMessage, OutboxMessage, Request
from tests.conftest import TestDatabase
from tests.hardening.conftest import NOW, ingest
from tests.inbox_worker.support import (
    counts,
    folder_counts,
    mailbox_for,
    sample_messages,
    test_settings,
)
from tests.servers import EmbeddedImap, pymap_account, pymap_server, seed_mailbox

__all__ = ["pymap_server"]

CORPUS = Path(__file__).resolve().parent.parent / "data" / "corpus"


@pytest.mark.imap
def test_fetching_a_batch_never_marks_a_message_seen(pymap_server: EmbeddedImap) -> None:
    account = pymap_account(pymap_server)
    seed_mailbox(
        host=account.host,
        port=account.port,
        username=account.username,
        password=account.password,
        messages=sample_messages(3),
    )
    mailbox = mailbox_for(test_settings("sqlite://", account), account)
    mailbox.open()
    try:
        fetched = mailbox.fetch(mailbox.search())
    finally:
        mailbox.close()  # as a worker killed after FETCH would leave it
    assert len(fetched) == 3
    with IMAPClient(account.host, account.port, ssl=False, timeout=10) as check:
        check.login(account.username, account.password)
        check.select_folder("INBOX", readonly=True)
        flags = check.get_flags(check.search(["ALL"]))
    assert len(flags) == 3
    assert all(b"\\Seen" not in f for f in flags.values()), flags


@pytest.mark.parametrize("name", ["001.eml", "010.eml", "022.eml", "037.eml", "040.eml"])
def test_reparsing_the_stored_raw_rebuilds_the_same_request(ready: TestDatabase, name: str) -> None:
    raw = (CORPUS / name).read_bytes()
    result = ingest(ready, raw)
    with ready.sessions() as session:
        row = session.get(InboundMessage, result.message_id)
        assert row is not None and row.raw == raw and row.sha256 and row.parse_result
        stored, again = dict(row.parse_result), parse(row.raw).to_json()
    # What the parser makes of the stored bytes now is what was recorded from them then.
    assert {k: stored[k] for k in again} == again


@contextmanager
def _outbox_insert_fails() -> Iterator[None]:
    def fail(*_args: Any) -> None:
        raise OSError(28, "No space left on device")

    event.listen(OutboxMessage, "before_insert", fail)
    try:
        yield
    finally:
        event.remove(OutboxMessage, "before_insert", fail)


def test_a_database_error_on_the_outbox_insert_leaves_nothing_behind(
    ready: TestDatabase,
) -> None:
    raw = (CORPUS / "037.eml").read_bytes()
    with ready.sessions() as session:
        history_before = session.scalar(select(func.count(HistoryEntry.id)))
    with _outbox_insert_fails(), pytest.raises(OSError, match="No space"):
        ingest(ready, raw)  # message, request and history were flushed before the outbox row
    with ready.sessions() as session:
        assert session.scalar(select(func.count(InboundMessage.id))) == 0
        assert session.scalar(select(func.count(Request.id))) == 0
        assert session.scalar(select(func.count(OutboxMessage.id))) == 0
        assert session.scalar(select(func.count(HistoryEntry.id))) == history_before
    again = ingest(ready, raw, now=NOW)  # the next poll records it whole
    assert again.request_ref is not None and again.outbox_ids


@pytest.mark.imap
def test_with_the_database_down_a_poll_moves_nothing_and_the_next_poll_records_all(
    pymap_server: EmbeddedImap, sqlite_url: str
) -> None:
    """Case 7: mail is moved only after its commit, so an unreachable database loses none."""
    account = pymap_account(pymap_server)
    seed_mailbox(
        host=account.host,
        port=account.port,
        username=account.username,
        password=account.password,
        messages=sample_messages(4),
    )
    # Nothing listens on port 1: every connection is refused, as when PostgreSQL is down.
    down = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2")
    settings = test_settings(sqlite_url, account)
    poller = Poller(
        mailbox_for(settings, account),
        make_sessionmaker(down),
        settings=settings,
        now=lambda: datetime.now(UTC),
    )
    try:
        with pytest.raises(OperationalError):
            poller.poll()
    finally:
        poller.close()
        down.dispose()
    assert folder_counts(account, "INBOX", "Processed") == {"INBOX": 4, "Processed": 0}

    engine = make_engine(sqlite_url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    poller = Poller(
        mailbox_for(settings, account), sessions, settings=settings, now=lambda: datetime.now(UTC)
    )
    try:
        report = poller.poll()
    finally:
        poller.close()
    assert (report.seen, report.recorded, report.moved) == (4, 4, 4)
    assert counts(sessions)[0] == 4
    assert folder_counts(account, "INBOX", "Processed") == {"INBOX": 0, "Processed": 4}
    engine.dispose()
