"""`pcse-intake verify|approve|reject REF --by STAFF`: staff decisions from the command line,
each made only once STAFF's password and authenticator code are checked."""

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

_BY = click.option(
    "--by", required=True, help="The staff account doing this (its password and code are asked)."
)


def _done(request: Request) -> None:
    click.echo(f"{request.ref} is now {request.state}")


@click.command(name="verify")
@click.argument("ref")
@_BY
@click.option("--outcome", type=click.Choice(["confirmed", "failed", "no_answer"]), required=True)
@click.option("--phone", default=None, help="The number called, if not the one on record.")
@click.option("--notes", default=None, help="What was said; required for a number not on record.")
@credentials_stdin
@click.pass_context
def verify_command(
    ctx: click.Context,
    ref: str,
    by: str,
    outcome: str,
    phone: str | None,
    notes: str | None,
    credentials_stdin: bool,
) -> None:
    """Record a verification call to the practice (on the number from the registry)."""
    from pcse_intake.workflows.decisions import verify

    by = authenticate_staff(ctx, by=by, from_stdin=credentials_stdin)

    def action(session: Session, settings: Settings, now: datetime) -> Request:
        return verify(
            session,
            ref=ref,
            by=by,
            outcome=outcome,
            now=now,
            settings=settings,
            phone=phone,
            notes=notes,
        )

    request = run_in_transaction(ctx, action)
    extra = f" ({request.no_answer_count} unanswered)" if outcome == "no_answer" else ""
    click.echo(f"{request.ref} is now {request.state}{extra}")


@click.command(name="approve")
@click.argument("ref")
@_BY
@credentials_stdin
@click.pass_context
def approve_command(ctx: click.Context, ref: str, by: str, credentials_stdin: bool) -> None:
    """Approve a verified request: change the records and queue the confirmations."""
    from pcse_intake.workflows.decisions import approve

    by = authenticate_staff(ctx, by=by, from_stdin=credentials_stdin)

    def action(session: Session, settings: Settings, now: datetime) -> Request:
        return approve(session, ref=ref, by=by, now=now, settings=settings)

    _done(run_in_transaction(ctx, action))


@click.command(name="reject")
@click.argument("ref")
@_BY
@click.option("--reason", required=True, help="Why, in words the practice will read.")
@credentials_stdin
@click.pass_context
def reject_command(
    ctx: click.Context, ref: str, by: str, reason: str, credentials_stdin: bool
) -> None:
    """Reject an open request and queue a notice with the reason to its sender."""
    from pcse_intake.workflows.decisions import reject

    by = authenticate_staff(ctx, by=by, from_stdin=credentials_stdin)

    def action(session: Session, settings: Settings, now: datetime) -> Request:
        return reject(session, ref=ref, by=by, reason=reason, now=now, settings=settings)

    _done(run_in_transaction(ctx, action))
