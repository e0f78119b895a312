"""`pcse-intake reconcile`: after a backup is restored, record the Processed/ mail it lacks."""

from __future__ import annotations

import json

import click

from pcse_intake.inbox_worker.cli.common import (
    EXIT_REFUSED,
    UsageProblem,
    open_database,
    settings_from,
)


@click.command(name="reconcile")
@click.option(
    "--folder", default=None, help="The folder to compare (default: the processed folder)."
)
@click.option(
    "--no-acknowledgements",
    is_flag=True,
    help="Send no acknowledgement for anything re-ingested, however recent.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.pass_context
def reconcile_command(
    ctx: click.Context, folder: str | None, no_acknowledgements: bool, as_json: bool
) -> None:
    """Find mail in Processed/ with no database record and record it (never moves mail)."""
    from datetime import UTC, datetime

    from pcse_intake.config import ConfigError
    from pcse_intake.inbox_worker.connect import check_settings, mailbox_factory
    from pcse_intake.inbox_worker.daemon import POLL_ERRORS
    from pcse_intake.inbox_worker.logs import configure_logging
    from pcse_intake.inbox_worker.reconcile import reconcile

    settings = settings_from(ctx)
    configure_logging(settings.logging.level)
    try:
        check_settings(settings)
        mailbox = mailbox_factory(settings)()
    except ConfigError as exc:
        raise UsageProblem(str(exc)) from exc
    database = open_database(settings)
    try:
        report = reconcile(
            mailbox,
            database.sessions,
            settings=settings,
            now=lambda: datetime.now(UTC),
            folder=folder,
            acknowledge=not no_acknowledgements,
        )
    except POLL_ERRORS as exc:
        raise UsageProblem(f"reconcile stopped: {' '.join(str(exc).split())[:300]}") from exc
    if as_json:
        click.echo(
            json.dumps(
                {
                    "folder": report.folder,
                    "examined": report.examined,
                    "already_recorded": report.already_recorded,
                    "reingested": report.reingested,
                    "acknowledged": report.acknowledged,
                    "message_id_collisions": report.message_id_collisions,
                    "failed": report.failed,
                    "failures": [{"uid": f.uid, "error": f.error} for f in report.failures],
                }
            )
        )
    else:
        click.echo(
            f"{report.folder}: {report.examined} examined, {report.already_recorded} already "
            f"recorded, {report.reingested} re-ingested ({report.acknowledged} acknowledged), "
            f"{report.failed} failed"
        )
        for failure in report.failures:
            click.echo(f"  could not re-ingest UID {failure.uid}: {failure.error}")
    if report.failures:
        ctx.exit(EXIT_REFUSED)
