"""`pcse-intake hold REF --by STAFF --reason T [--release]`: legal holds from the command line."""

from __future__ import annotations

from datetime import datetime

import click
from sqlalchemy.orm import Session

from pcse_intake.config import Settings
from pcse_intake.inbox_worker.cli.credentials import authenticate_staff, credentials_stdin
from pcse_intake.inbox_worker.cli.workflow_support import run_in_transaction


@click.command(name="hold")
@click.argument("ref")
@click.option("--by", required=True, help="The admin placing or releasing the hold.")
@click.option("--reason", required=True, help="Why: the case, inquiry or request it serves.")
@click.option("--release", is_flag=True, help="End the standing hold instead of placing one.")
@credentials_stdin
@click.pass_context
def hold_command(
    ctx: click.Context, ref: str, by: str, reason: str, release: bool, credentials_stdin: bool
) -> None:
    """Keep a request's raw e-mails through the retention purge (admins only)."""
    from pcse_intake.workflows.legal_hold import place_hold, release_hold

    by = authenticate_staff(ctx, by=by, from_stdin=credentials_stdin)

    change = release_hold if release else place_hold

    def action(session: Session, _settings: Settings, now: datetime) -> str:
        change(session, ref=ref, by=by, reason=reason, now=now)
        return ref.strip().upper()

    done = run_in_transaction(ctx, action)
    click.echo(f"{done}: legal hold {'released' if release else 'placed'}")
