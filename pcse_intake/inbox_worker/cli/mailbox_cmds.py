"""`pcse-intake poll --once`, `pcse-intake run` and `pcse-intake outbox send`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from pcse_intake.config import ConfigError, Settings
from pcse_intake.inbox_worker.cli.common import UsageProblem, open_database, settings_from

if TYPE_CHECKING:  # SQLAlchemy loads only when a command opens the database
    from sqlalchemy.orm import Session, sessionmaker


def _checked(settings: Settings) -> None:
    from pcse_intake.inbox_worker.connect import check_settings

    try:
        check_settings(settings)
    except ConfigError as exc:
        raise UsageProblem(str(exc)) from exc


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]


@click.command(name="poll")
@click.option("--once", is_flag=True, help="Poll once and exit (use `run` for the daemon).")
@click.pass_context
def poll_command(ctx: click.Context, once: bool) -> None:
    """Fetch new mail, record requests, queue replies, move what was recorded; then exit."""
    from datetime import UTC, datetime

    from pcse_intake.inbox_worker.connect import mailbox_factory
    from pcse_intake.inbox_worker.daemon import POLL_ERRORS
    from pcse_intake.inbox_worker.logs import configure_logging
    from pcse_intake.inbox_worker.poller import Poller

    if not once:
        raise UsageProblem("poll needs --once; for continuous polling run 'pcse-intake run'")
    settings = settings_from(ctx)
    configure_logging(settings.logging.level)
    _checked(settings)
    database = open_database(settings)
    poller = Poller(
        mailbox_factory(settings)(),
        database.sessions,
        settings=settings,
        now=lambda: datetime.now(UTC),
    )
    try:
        report = poller.poll()
    except POLL_ERRORS as exc:
        poller.note_failure(_one_line(exc))
        raise UsageProblem(f"poll failed: {_one_line(exc)}") from exc
    finally:
        poller.close()
    _apply_due_changes(database.sessions, settings)
    if report.busy:
        click.echo("another worker is polling this mailbox right now; nothing done")
        return
    click.echo(
        f"{report.seen} in {settings.mailbox.folder}: {report.recorded} recorded, "
        f"{report.duplicates} already known, {report.failed} failed (kept, will retry), "
        f"{report.quarantined} quarantined, {report.moved} moved"
    )


def _apply_due_changes(sessions: sessionmaker[Session], settings: Settings) -> None:
    """As the daemon's `changes` job: e-mail changes whose cooling-off period is over."""
    from datetime import UTC, datetime

    from pcse_intake.workflows.db import transaction
    from pcse_intake.workflows.pending_changes import apply_due_changes

    with transaction(sessions) as session:
        due = apply_due_changes(session, now=datetime.now(UTC), settings=settings)
    if due.applied or due.stopped:
        click.echo(f"e-mail changes: {len(due.applied)} took effect, {len(due.stopped)} stopped")


@click.command(name="run")
@click.option(
    "--for",
    "seconds",
    type=click.FloatRange(min=0),
    default=None,
    help="Stop by itself after this many seconds (for tests).",
)
@click.pass_context
def run_command(ctx: click.Context, seconds: float | None) -> None:
    """The daemon: scheduled polling, outbox sending, reminders, retention; stops on SIGTERM."""
    from datetime import UTC, datetime

    from pcse_intake.inbox_worker.connect import mailbox_factory, mailer_factory
    from pcse_intake.inbox_worker.daemon import Daemon
    from pcse_intake.inbox_worker.logs import configure_logging

    settings = settings_from(ctx)
    configure_logging(settings.logging.level)
    _checked(settings)
    database = open_database(settings)
    daemon = Daemon(
        settings=settings,
        sessions=database.sessions,
        open_mailbox=mailbox_factory(settings),
        connect_mailer=mailer_factory(settings),
        now=lambda: datetime.now(UTC),
    )
    try:
        code = daemon.run(stop_after=seconds)
    except OSError as exc:  # e.g. the health port is taken
        raise UsageProblem(f"cannot start: {_one_line(exc)}") from exc
    ctx.exit(code)


@click.group(name="outbox")
def outbox_group() -> None:
    """The queue of outgoing e-mails."""


@outbox_group.command(name="send")
@click.pass_context
def outbox_send_command(ctx: click.Context) -> None:
    """Send what the outbox holds now (due rows), then exit."""
    from datetime import UTC, datetime

    from pcse_intake.inbox_worker.connect import mailer_factory
    from pcse_intake.inbox_worker.logs import configure_logging
    from pcse_intake.inbox_worker.outbox_job import send_outbox

    settings = settings_from(ctx)
    configure_logging(settings.logging.level)
    try:
        connect = mailer_factory(settings)
    except ConfigError as exc:
        raise UsageProblem(str(exc)) from exc
    database = open_database(settings)
    report = send_outbox(
        database.sessions, connect, settings=settings, now=lambda: datetime.now(UTC)
    )
    click.echo(f"{report.sent} sent, {report.retrying} to retry later, {report.failed} failed")
    if report.unreachable:
        raise UsageProblem(f"SMTP relay unreachable: {report.unreachable}")
