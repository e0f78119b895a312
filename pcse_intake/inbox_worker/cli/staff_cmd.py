"""`pcse-intake staff add NAME --role ...`: create a staff account for the console and the CLI."""

from __future__ import annotations

import sys
from datetime import datetime

import click
from sqlalchemy.orm import Session

from pcse_intake.config import Settings
from pcse_intake.inbox_worker.cli.common import UsageProblem
from pcse_intake.inbox_worker.cli.workflow_support import run_in_transaction

ROLES = ("verifier", "approver", "admin")


@click.group(name="staff")
def staff_group() -> None:
    """Staff accounts."""


@staff_group.command(name="add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the account may do.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of asking.",
)
@click.option("--by", default="system", show_default=True, help="Who is creating it (history).")
@click.pass_context
def add_command(ctx: click.Context, name: str, role: str, password_stdin: bool, by: str) -> None:
    """Create staff account NAME (verifier: verify; approver: verify, approve, reject; admin: all).

    The password must follow the PCSE rule: at least 12 characters, with an upper-case and a
    lower-case letter, a number and one of ! $ % ^ & * @ # ? -.
    """
    from pcse_intake.workflows.models import StaffRole
    from pcse_intake.workflows.staff import check_password_rule, create_staff

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(
            "Password", hide_input=True, confirmation_prompt="Repeat the password"
        )
    failures = check_password_rule(password)
    if failures:
        raise UsageProblem("the password " + "; ".join(failures))

    def action(session: Session, _settings: Settings, now: datetime) -> str:
        staff = create_staff(
            session, username=name, role=StaffRole(role), password=password, now=now, by=by
        )
        return staff.username

    username = run_in_transaction(ctx, action)
    click.echo(f"staff account {username} ({role}) created")
