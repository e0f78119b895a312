"""`pcse-intake run`: a real daemon picks up mail (IDLE), replies, serves health, stops on TERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pcse_intake.inbox_worker.daemon import Daemon
from pcse_intake.inbox_worker.health import Metrics
from pcse_intake.inbox_worker.smtp_sink import free_port
from pcse_intake.workflows.db import make_engine, make_sessionmaker
from tests.conftest import TestDatabase
from tests.inbox_worker.support import (
    CLI_MAIN,
    IMAP_PASSWORD_ENV,
    cli,
    counts,
    sample_messages,
    test_settings,
    write_config,
)
from tests.servers import EmbeddedImap, SmtpSink, pymap_account, seed_mailbox


def _wait_for(condition: object, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.imap
@pytest.mark.smtp
@pytest.mark.slow
def test_the_daemon_picks_up_new_mail_replies_serves_health_and_stops_cleanly_on_sigterm(
    pymap_server: EmbeddedImap, smtp_sink: SmtpSink, tmp_path: Path, sqlite_url: str
) -> None:
    account = pymap_account(pymap_server)
    health_port = free_port()
    config = write_config(
        tmp_path,
        sqlite_url,
        account,
        smtp_sink,
        mailbox={"idle": True},
        schedule={"poll_seconds": 30, "outbox_seconds": 1},
        health={"enabled": True, "port": health_port},
    )
    assert cli(config, "db", "upgrade").returncode == 0
    log_path = tmp_path / "daemon.log"
    with open(log_path, "w") as log_file:
        daemon = subprocess.Popen(
            [sys.executable, "-c", CLI_MAIN, "--config", str(config), "run"],
            stdout=subprocess.DEVNULL,
            stderr=log_file,
            env={**os.environ, IMAP_PASSWORD_ENV: account.password},
        )
        try:
            assert _wait_for(lambda: "health_listening" in log_path.read_text())
            assert _wait_for(lambda: "poll_done" in log_path.read_text())
            # Mail arriving while the daemon IDLEs is picked up without waiting 30 s.
            seed_mailbox(
                host=account.host,
                port=account.port,
                username=account.username,
                password=account.password,
                messages=sample_messages(3)[2:3],
            )
            assert _wait_for(lambda: len(smtp_sink.received) == 1, 20)
            status, body = _get(f"http://127.0.0.1:{health_port}/healthz")
            assert status == 200 and json.loads(body)["status"] == "ok"
            _status, metrics = _get(f"http://127.0.0.1:{health_port}/metrics")
            assert "pcse_messages_seen_total 1.0" in metrics
            assert 'pcse_requests{state="awaiting_verification"}' in metrics
            assert "pcse_last_successful_poll_timestamp_seconds" in metrics
        finally:
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(timeout=30)
    assert code == 0
    lines = log_path.read_text().splitlines()
    events = [json.loads(line) for line in lines]  # every line is one JSON object
    assert events[-1]["event"] == "daemon_stopped"
    assert any(e["event"] == "stop_requested" and e["signal"] == "SIGTERM" for e in events)


def test_the_stale_poll_alarm_is_loud_once_and_healthz_turns_503(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics(stale_poll_seconds=60)
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    metrics.started_at = t0
    assert not metrics.check_stale(t0.replace(second=30))
    late = t0.replace(minute=2)
    assert metrics.check_stale(late) and metrics.check_stale(late)
    alarms = [r for r in caplog.records if r.getMessage() == "poll_stale"]
    assert len(alarms) == 1 and alarms[0].levelname == "CRITICAL"
    metrics.poll_succeeded(late, 0)
    assert not metrics.is_stale(late)


def test_the_daemon_stops_without_running_jobs_when_asked_before_they_start(
    sqlite_database: TestDatabase,
) -> None:
    settings = test_settings(sqlite_database.url)
    daemon = Daemon(
        settings=settings,
        sessions=sqlite_database.sessions,
        open_mailbox=lambda: pytest.fail("must not connect"),  # type: ignore[arg-type,return-value]
        connect_mailer=lambda: pytest.fail("must not send"),  # type: ignore[arg-type,return-value]
        now=lambda: datetime.now(UTC),
        health_port=0,
    )
    daemon.stop()
    assert daemon.run(handle_signals=False) == 0
    assert counts(sqlite_database.sessions) == (0, 0, 0)


@pytest.mark.imap
@pytest.mark.slow
def test_the_daemon_survives_the_imap_server_going_away_and_reconnects_when_it_is_back(
    tmp_path: Path, sqlite_url: str
) -> None:
    server = EmbeddedImap(username="testuser", password="testpass").start()
    account = pymap_account(server)
    config = write_config(
        tmp_path, sqlite_url, account, schedule={"poll_seconds": 1}, mailbox={"timeout_seconds": 3}
    )
    assert cli(config, "db", "upgrade").returncode == 0
    log_path = tmp_path / "daemon.log"
    with open(log_path, "w") as log_file:
        daemon = subprocess.Popen(
            [sys.executable, "-c", CLI_MAIN, "--config", str(config), "run"],
            stdout=subprocess.DEVNULL,
            stderr=log_file,
            env={**os.environ, IMAP_PASSWORD_ENV: account.password},
        )
        restarted = None
        try:
            assert _wait_for(lambda: "poll_done" in log_path.read_text())
            server.stop()  # the mailbox server goes away under the daemon
            assert _wait_for(lambda: "poll_failed" in log_path.read_text())
            assert daemon.poll() is None  # still running
            restarted = EmbeddedImap(
                username="testuser", password="testpass", port=account.port
            ).start()
            seed_mailbox(
                host=account.host,
                port=account.port,
                username=account.username,
                password=account.password,
                messages=sample_messages(3)[2:3],
            )
            sessions = make_sessionmaker(make_engine(sqlite_url))
            assert _wait_for(lambda: counts(sessions)[0] == 1, 30)
        finally:
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(timeout=30)
            if restarted is not None:
                restarted.stop()
            server.stop()
    assert code == 0
    events = [json.loads(line)["event"] for line in log_path.read_text().splitlines()]
    # The restarted server has a new UIDVALIDITY: noticed, alerted, rescanned.
    assert "uidvalidity_changed" in events


def test_the_daemon_applies_e_mail_changes_whose_cooling_off_period_is_over(
    sqlite_database: TestDatabase,
) -> None:
    from datetime import timedelta

    from pcse_intake.workflows.db import transaction
    from pcse_intake.workflows.decisions import approve, verify
    from pcse_intake.workflows.intake import record_message
    from pcse_intake.workflows.registry import organisation
    from tests.conftest import CORPUS
    from tests.workflows.conftest import add_staff, load_registry

    settings = test_settings(sqlite_database.url)
    now = datetime.now(UTC)
    approved_at = now - timedelta(hours=settings.workflow.cooling_off_hours, minutes=1)
    with transaction(sqlite_database.sessions) as s:
        load_registry(s)
        add_staff(s)
        raw = (CORPUS / "037.eml").read_bytes()
        ref = record_message(s, raw, settings=settings, now=approved_at).request_ref or ""
        verify(
            s,
            ref=ref,
            by="alice",
            outcome="confirmed",
            now=approved_at,
            settings=settings,
            notes="the practice manager confirmed the new address",
        )
        approve(s, ref=ref, by="bob", now=approved_at, settings=settings)
        assert organisation(s, "H83004").email == "glebehouse.surgery@nhs.net"  # type: ignore[union-attr]
    daemon = Daemon(
        settings=settings,
        sessions=sqlite_database.sessions,
        open_mailbox=lambda: pytest.fail("must not connect"),
        connect_mailer=lambda: pytest.fail("must not send"),
        now=lambda: now,
        health_port=0,
    )
    job = daemon._build_scheduler().get_job("changes")
    assert job is not None and (job.max_instances, job.coalesce) == (1, True)
    job.func()  # what the scheduler runs: the guarded changes job
    with transaction(sqlite_database.sessions) as s:
        assert organisation(s, "H83004").email == "glebehouse.admin@nhs.net"  # type: ignore[union-attr]
