"""`pcse-intake reconcile` (battery case 13): after an old backup is restored, Processed/ mail
that the database lost is recorded again, exactly once, and nothing in the mailbox moves."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from pcse_intake.inbox_worker.imap_source import ImapMailbox
from pcse_intake.inbox_worker.reconcile import reconcile
from pcse_intake.workflows.db import make_engine, make_sessionmaker
from pcse_intake.workflows.models import InboundMessage, OutboxMessage
from tests.conftest import TestDatabase
from tests.hardening.soak_support import append_all, folder_hashes, soak_corpus
from tests.inbox_worker.support import (
    cli,
    folder_counts,
    sample_messages,
    test_settings,
    write_config,
)
from tests.servers import DovecotServer, seed_mailbox

# 003 and 020 are complete requests from two practices: each is acknowledged when answered.
COMPLETE = ("003", "020")


def _sqlite_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def _backup(url: str, to: Path) -> None:
    """What a nightly backup does: SQLite's online backup (WAL contents included)."""
    with sqlite3.connect(_sqlite_file(url)) as live, sqlite3.connect(to) as copy:
        live.backup(copy)


def _restore(backup: Path, url: str) -> None:
    with sqlite3.connect(backup) as saved, sqlite3.connect(_sqlite_file(url)) as live:
        saved.backup(live)


def _recorded_hashes(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            return list(session.scalars(select(InboundMessage.sha256)))
    finally:
        engine.dispose()


@pytest.mark.dovecot
@pytest.mark.slow
def test_after_restoring_an_old_backup_reconcile_records_the_lost_mail_once_and_moves_nothing(
    dovecot_server: DovecotServer, tmp_path: Path, sqlite_url: str
) -> None:
    account = dovecot_server.account
    config = write_config(tmp_path, sqlite_url, account)
    assert cli(config, "db", "upgrade").returncode == 0
    messages = soak_corpus(10, tag="reconcile")
    append_all(account, messages[:4])
    assert cli(config, "poll", "--once", imap=account).returncode == 0
    backup = tmp_path / "last-night.db"
    _backup(sqlite_url, backup)
    # The day goes on: six more arrive and are recorded and moved; then the disk dies.
    append_all(account, messages[4:])
    assert cli(config, "poll", "--once", imap=account).returncode == 0
    assert folder_counts(account, "INBOX", "Processed") == {"INBOX": 0, "Processed": 10}
    _restore(backup, sqlite_url)
    assert len(_recorded_hashes(sqlite_url)) == 4

    first = cli(config, "reconcile", "--json", imap=account)
    assert first.returncode == 0, first.stderr
    counts = json.loads(first.stdout)
    assert (counts["examined"], counts["already_recorded"], counts["reingested"]) == (10, 4, 6)
    assert counts["failed"] == 0 and counts["failures"] == []
    recorded = _recorded_hashes(sqlite_url)
    assert len(recorded) == len(set(recorded)) == 10
    assert set(recorded) == set(folder_hashes(account, "Processed"))

    second = cli(config, "reconcile", imap=account)
    assert second.returncode == 0, second.stderr
    assert "10 examined, 10 already recorded, 0 re-ingested" in second.stdout
    assert len(_recorded_hashes(sqlite_url)) == 10
    # Never moved or deleted: every message is where the poll left it.
    assert folder_counts(account, "INBOX", "Processed", "Quarantine") == {
        "INBOX": 0,
        "Processed": 10,
        "Quarantine": 0,
    }


@pytest.mark.dovecot
@pytest.mark.parametrize("acknowledge", [True, False], ids=["backlog_rule", "no_acknowledgements"])
def test_reconciled_mail_older_than_the_backlog_age_is_recorded_but_not_acknowledged(
    dovecot_server: DovecotServer, sqlite_database: TestDatabase, acknowledge: bool
) -> None:
    """And with `--no-acknowledgements` (acknowledge=False) not even recent mail is answered."""
    account = dovecot_server.account
    by_name = dict(zip([f"{n:03d}" for n in range(1, 41)], sample_messages(), strict=True))
    old, recent = (by_name[name] for name in COMPLETE)
    now = datetime.now(UTC)
    for raw, when in ((old, now - timedelta(days=10)), (recent, now - timedelta(hours=1))):
        seed_mailbox(
            host=account.host,
            port=account.port,
            username=account.username,
            password=account.password,
            messages=[raw],
            folder="Processed",
            internal_date=when,
        )
    settings = test_settings(sqlite_database.url, account)
    report = reconcile(
        ImapMailbox(settings.mailbox, password=account.password),
        sqlite_database.sessions,
        settings=settings,
        now=lambda: now,
        acknowledge=acknowledge,
    )
    assert (report.examined, report.reingested, report.acknowledged) == (2, 2, int(acknowledge))
    with sqlite_database.sessions() as session:
        rows = {row.raw: row.request_id for row in session.scalars(select(InboundMessage)).all()}
        answered = set(session.scalars(select(OutboxMessage.request_id)))
    assert (rows[recent] in answered) is acknowledge
    assert rows[old] is not None and rows[old] not in answered
