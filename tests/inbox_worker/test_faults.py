"""Faults: a worker killed mid-way, a dropped connection, a poison message, two workers at once.

Invariants after recovery: no message lost, none recorded twice, no reply queued twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pcse_intake.inbox_worker import poller as poller_module
from pcse_intake.inbox_worker.faults import CRASH_ENV
from pcse_intake.inbox_worker.imap_source import CONNECTION_ERRORS, ImapMailbox
from pcse_intake.inbox_worker.poller import Poller
from pcse_intake.workflows import intake
from pcse_intake.workflows.db import make_engine, make_sessionmaker
from pcse_intake.workflows.models import InboundMessage, MessageStatus, OutboxMessage
from tests.conftest import TestDatabase
from tests.inbox_worker.support import (
    CLI_MAIN,
    IMAP_PASSWORD_ENV,
    cli,
    counts,
    folder_counts,
    sample_messages,
    test_settings,
    write_config,
)
from tests.servers import (
    DovecotServer,
    EmbeddedImap,
    ImapAccount,
    SmtpSink,
    pymap_account,
    seed_mailbox,
)


def _seed(account: ImapAccount, messages: list[bytes]) -> None:
    seed_mailbox(
        host=account.host,
        port=account.port,
        username=account.username,
        password=account.password,
        messages=messages,
    )


def _assert_each_message_once(url: str, expected: int) -> None:
    sessions = make_sessionmaker(make_engine(url))
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == expected
        shas = session.scalars(select(InboundMessage.sha256)).all()
        assert len(set(shas)) == expected
        # One reply per message at most: no message ever queued two.
        per_request = session.execute(
            select(OutboxMessage.request_id, OutboxMessage.template, func.count())
            .group_by(OutboxMessage.request_id, OutboxMessage.template)
            .having(func.count() > 1)
        ).all()
        assert per_request == []


@pytest.mark.imap
@pytest.mark.parametrize("point", ["after_fetch", "after_commit"])
def test_a_worker_killed_mid_message_loses_nothing_and_repeats_nothing(
    point: str, pymap_server: EmbeddedImap, tmp_path: Path, sqlite_url: str
) -> None:
    account = pymap_account(pymap_server)
    config = write_config(tmp_path, sqlite_url, account)
    assert cli(config, "db", "upgrade").returncode == 0
    _seed(account, sample_messages(4))

    killed = cli(config, "poll", "--once", imap=account, env={CRASH_ENV: point})
    assert killed.returncode == -9  # SIGKILL, as kill -9 would
    # One batch, one commit: killed before it, nothing; after it, all four, none moved yet.
    recorded_before_restart = counts(make_sessionmaker(make_engine(sqlite_url)))[0]
    assert recorded_before_restart == (4 if point == "after_commit" else 0)
    assert folder_counts(account, "INBOX")["INBOX"] == 4  # nothing moved before the crash

    restarted = cli(config, "poll", "--once", imap=account)
    assert restarted.returncode == 0, restarted.stderr
    assert folder_counts(account, "INBOX", "Processed") == {"INBOX": 0, "Processed": 4}
    _assert_each_message_once(sqlite_url, 4)


@pytest.mark.imap
def test_a_connection_dropped_mid_batch_is_resumed_by_the_next_poll_without_duplicates(
    pymap_server: EmbeddedImap, sqlite_database: TestDatabase
) -> None:
    account = pymap_account(pymap_server)
    _seed(account, sample_messages(6))
    settings = test_settings(sqlite_database.url, account, batch_size=2)

    class DroppingMailbox(ImapMailbox):
        moves = 0

        def move(self, uids: Sequence[int], folder: str) -> None:
            super().move(uids, folder)
            DroppingMailbox.moves += 1
            if DroppingMailbox.moves == 2:
                # The network goes away under the client, in the middle of the second batch.
                import socket

                self.client.socket().shutdown(socket.SHUT_RDWR)

    poller = Poller(
        DroppingMailbox(settings.mailbox, password=account.password),
        sqlite_database.sessions,
        settings=settings,
        now=lambda: datetime.now(UTC),
    )
    with pytest.raises(CONNECTION_ERRORS):
        poller.poll()
    poller.close()
    recorded_at_drop = counts(sqlite_database.sessions)[0]
    # Two batches were moved before the drop; nothing was moved before it was recorded (the
    # poller may have fetched and recorded the third batch ahead, but could not move it).
    assert folder_counts(account, "Processed")["Processed"] == 4
    assert recorded_at_drop >= 4

    fresh = Poller(
        ImapMailbox(settings.mailbox, password=account.password),
        sqlite_database.sessions,
        settings=settings,
        now=lambda: datetime.now(UTC),
    )
    try:
        report = fresh.poll()
    finally:
        fresh.close()
    assert report.recorded == 6 - recorded_at_drop
    assert folder_counts(account, "INBOX", "Processed") == {"INBOX": 0, "Processed": 6}
    _assert_each_message_once(sqlite_database.url, 6)


@pytest.mark.imap
def test_a_poison_message_is_kept_retried_then_quarantined_while_its_neighbours_go_through(
    pymap_server: EmbeddedImap, sqlite_database: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = pymap_account(pymap_server)
    good = sample_messages(3)
    poison = b"From: x@nhs.net\r\nSubject: POISON\r\nMessage-ID: <p@x>\r\n\r\nboom\r\n"
    _seed(account, [good[0], poison, good[1], good[2]])
    real_parse = intake.parse

    def exploding_parse(raw: bytes, options: object = None) -> object:
        if b"POISON" in raw:
            raise RuntimeError("parser bug on this one")
        return real_parse(raw, options)  # type: ignore[arg-type]

    # The poller parses ahead of intake; both must meet the bug (and no helper process,
    # which would parse with the real parser).
    monkeypatch.setattr(intake, "parse", exploding_parse)
    monkeypatch.setattr(poller_module, "parse", exploding_parse)
    settings = test_settings(sqlite_database.url, account, max_attempts=3)
    poller = Poller(
        ImapMailbox(settings.mailbox, password=account.password),
        sqlite_database.sessions,
        settings=settings,
        now=lambda: datetime.now(UTC),
        parse_processes=0,
    )
    try:
        reports = [poller.poll() for _ in range(3)]
    finally:
        poller.close()
    assert (reports[0].recorded, reports[0].failed) == (3, 1)
    assert (reports[1].failed, reports[2].quarantined) == (1, 1)
    assert folder_counts(account, "INBOX", "Processed", "Quarantine") == {
        "INBOX": 0,
        "Processed": 3,
        "Quarantine": 1,
    }
    with sqlite_database.sessions() as session:
        kept = (
            session.scalars(
                select(InboundMessage).where(InboundMessage.subject == "POISON")
            ).one_or_none()
            or session.scalars(
                select(InboundMessage).where(InboundMessage.status == MessageStatus.QUARANTINED)
            ).one()
        )
        assert kept.raw == poison and kept.attempts == 3
        assert kept.error is not None and "parser bug" in kept.error
    _assert_each_message_once(sqlite_database.url, 4)


@pytest.mark.imap
def test_a_changed_uidvalidity_rescans_safely_and_raises_an_alert(
    sqlite_database: TestDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    messages = sample_messages(3)
    first_total = None
    for _server_life in range(2):
        # pymap starts with a new UIDVALIDITY each time: the mailbox was "recreated".
        with EmbeddedImap(username="testuser", password="testpass") as server:
            account = pymap_account(server)
            _seed(account, messages)
            settings = test_settings(sqlite_database.url, account)
            poller = Poller(
                ImapMailbox(settings.mailbox, password=account.password),
                sqlite_database.sessions,
                settings=settings,
                now=lambda: datetime.now(UTC),
            )
            try:
                report = poller.poll()
            finally:
                poller.close()
            first_total = first_total or counts(sqlite_database.sessions)
    assert report.uidvalidity_changed and report.duplicates == 3 and report.recorded == 0
    assert counts(sqlite_database.sessions) == first_total
    assert any(r.getMessage() == "uidvalidity_changed" for r in caplog.records)


@pytest.mark.dovecot
@pytest.mark.postgres
@pytest.mark.slow
def test_two_worker_processes_on_one_mailbox_and_one_postgresql_record_each_message_once(
    pg_url: str, tmp_path: Path
) -> None:
    with DovecotServer() as dovecot:
        account = dovecot.account
        messages = sample_messages(24)
        _seed(account, messages)
        config = write_config(tmp_path, pg_url, account, mailbox={"batch_size": 5})
        assert cli(config, "db", "upgrade").returncode == 0
        env = {**os.environ, IMAP_PASSWORD_ENV: account.password}
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", CLI_MAIN, "--config", str(config), "poll", "--once"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for _ in range(2)
        ]
        try:
            outputs = [worker.communicate(timeout=180) for worker in workers]
        finally:
            for worker in workers:  # never leave a hung worker behind
                if worker.poll() is None:
                    worker.kill()
                    worker.wait()
        assert [w.returncode for w in workers] == [0, 0], outputs
        # Each either polled or saw the other holding the mailbox's lease, and stood back.
        assert all("recorded" in out or "another worker" in out for out, _err in outputs)
        assert folder_counts(account, "INBOX", "Processed") == {"INBOX": 0, "Processed": 24}
    _assert_each_message_once(pg_url, 24)


@pytest.mark.dovecot
@pytest.mark.postgres
def test_without_the_lease_a_worker_whose_insert_hits_the_unique_key_counts_a_duplicate(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The last line of defence: two pollers record the same batch at the same moment."""
    import contextlib
    import logging

    caplog.set_level(logging.INFO, logger="pcse_intake.inbox_worker.poller")
    import threading

    from pcse_intake.workflows.migrate import upgrade

    monkeypatch.setattr(
        poller_module, "mailbox_lease", lambda sessions, mailbox: contextlib.nullcontext(True)
    )
    engine = make_engine(pg_url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    with DovecotServer() as dovecot:
        account = dovecot.account
        _seed(account, sample_messages(6))
        settings = test_settings(pg_url, account, batch_size=6)
        barrier = threading.Barrier(2)
        reports = []

        class InStep(ImapMailbox):
            def fetch(self, uids: Sequence[int]) -> list:  # type: ignore[type-arg]
                fetched = super().fetch(uids)
                barrier.wait(10)  # both hold the same batch before either records it
                return fetched

        def work() -> None:
            poller = Poller(
                InStep(settings.mailbox, password=account.password),
                sessions,
                settings=settings,
                now=lambda: datetime.now(UTC),
            )
            try:
                reports.append(poller.poll())
            except Exception as exc:  # surfaced below: a thread's error must fail the test
                errors.append(exc)
            finally:
                poller.close()

        errors: list[Exception] = []
        threads = [threading.Thread(target=work) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    engine.dispose()
    assert errors == [] and len(reports) == 2
    assert sorted(r.recorded for r in reports) == [0, 6]
    assert sum(r.duplicates for r in reports) == 6
    # At least the first clash went through the unique key (IntegrityError), not a lookup.
    assert any(getattr(r, "pcse_fields", {}).get("reason") for r in caplog.records)
    _assert_each_message_once(pg_url, 6)


@pytest.mark.smtp
def test_a_sender_killed_after_the_server_accepted_does_not_send_that_mail_again_at_once(
    smtp_sink: SmtpSink, tmp_path: Path, sqlite_url: str
) -> None:
    from tests.inbox_worker.test_outbox_job import _queue

    config = write_config(tmp_path, sqlite_url, smtp=smtp_sink)
    assert cli(config, "db", "upgrade").returncode == 0
    sessions = make_sessionmaker(make_engine(sqlite_url))
    # Rows due now (the helper dates them 2026-03-02, long before the test runs).
    _queue(sessions, 3)
    killed = cli(config, "outbox", "send", env={CRASH_ENV: "after_smtp_accept"})
    assert killed.returncode == -9
    assert len(smtp_sink.received) == 1  # accepted by the server, not yet marked sent
    resumed = cli(config, "outbox", "send")
    assert resumed.returncode == 0, resumed.stderr
    # The other two go out; the one in doubt waits in `sending` for the stuck-row recovery
    # (10 minutes, tested in test_outbox_job) and then goes with the same Message-ID.
    ids = [m.message()["Message-ID"] for m in smtp_sink.received]
    assert len(ids) == 3 == len(set(ids))
    with sessions() as session:
        statuses = sorted(session.scalars(select(OutboxMessage.status)).all())
    assert statuses == ["sending", "sent", "sent"]


@pytest.mark.imap
@pytest.mark.smtp
@pytest.mark.slow
def test_a_crash_at_every_point_in_turn_still_records_moves_and_replies_exactly_once(
    pymap_server: EmbeddedImap, smtp_sink: SmtpSink, tmp_path: Path, sqlite_url: str
) -> None:
    """A small crash soak: kill -9 at each named point, one after the other, then recover."""
    account = pymap_account(pymap_server)
    config = write_config(tmp_path, sqlite_url, account, smtp_sink, mailbox={"batch_size": 3})
    assert cli(config, "db", "upgrade").returncode == 0
    messages = sample_messages(9)
    _seed(account, messages)
    for point in ("after_fetch", "after_commit", "after_move"):
        killed = cli(config, "poll", "--once", imap=account, env={CRASH_ENV: point})
        assert killed.returncode == -9, (point, killed.stderr[-500:])
        sent = cli(config, "outbox", "send", env={CRASH_ENV: "after_smtp_accept"})
        assert sent.returncode in (0, -9)
    assert cli(config, "poll", "--once", imap=account).returncode == 0
    assert cli(config, "outbox", "send").returncode == 0
    assert folder_counts(account, "INBOX", "Processed") == {"INBOX": 0, "Processed": 9}
    _assert_each_message_once(sqlite_url, 9)
    sessions = make_sessionmaker(make_engine(sqlite_url))
    with sessions() as session:
        rows = session.scalars(select(OutboxMessage)).all()
    in_doubt = [r for r in rows if r.status == "sending"]  # killed after the server's 250
    sent_ids = [m.message()["Message-ID"] for m in smtp_sink.received]
    assert len(sent_ids) == len(set(sent_ids))  # nothing went out twice
    assert {r.message_id_header for r in rows if r.status == "sent"} | {
        r.message_id_header for r in in_doubt
    } == set(sent_ids)
    assert all(r.status in ("sent", "sending") for r in rows)


@pytest.mark.parametrize(("wanted", "arrivals_survived"), [("after_move", 0), ("after_move@3", 2)])
def test_a_crash_point_kills_on_the_arrival_it_names_and_not_before(
    wanted: str, arrivals_survived: int
) -> None:
    """`name@N` lets a soak's worker make progress before it dies; a bare name dies at once."""
    script = (
        "from pcse_intake.inbox_worker.faults import crash_point\n"
        "for n in range(5):\n"
        "    crash_point('after_commit')\n"  # another point: never fires
        "    crash_point('after_move')\n"
        "    print(n, flush=True)\n"
    )
    env = {**os.environ, CRASH_ENV: wanted}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == -9
    assert done.stdout.split() == [str(n) for n in range(arrivals_survived)]
