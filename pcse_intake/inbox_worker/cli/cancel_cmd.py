"""`pcse-intake cancel REF --by STAFF --reason T`: stop an approved e-mail change that waits."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import click
from sqlalchemy.orm import Session

from pcse_intake.config import Settings
from pcse_intake.inbox_worker.cli.credentials import authenticate_staff, credentials_stdin
from pcse_intake.inbox_worker.cli.workflow_support import run_in_transaction

if TYPE_CHECKING:
    from pcse_intake.workflows.models import Request


@click.command(name="cancel")
@click.argument("ref")
@click.option("--by", required=True, help="The approver doing this (password and code asked).")
@click.option("--reason", required=True, help="Why, in words the practice will read.")
@credentials_stdin
@click.pass_context
def cancel_command(
    ctx: click.Context, ref: str, by: str, reason: str, credentials_stdin: bool
) -> None:
    """Cancel an e-mail change in its cooling-off period; both addresses are told why."""
    from pcse_intake.workflows.pending_changes import cancel_change

    by = authenticate_staff(ctx, by=by, from_stdin=credentials_stdin)

    def action(session: Session, settings: Settings, now: datetime) -> Request:
        return cancel_change(session, ref=ref, by=by, reason=reason, now=now, settings=settings)

    request = run_in_transaction(ctx, action)
    click.echo(f"{request.ref} is now {request.state}: the e-mail change will not happen")
