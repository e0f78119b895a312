"""`pcse-intake staff add NAME --role admin`: the operator's bootstrap of the first admins.

Every other account is made in the console, where one admin asks and a second confirms.
"""

from __future__ import annotations

import sys
from datetime import datetime

import click
from sqlalchemy.orm import Session

from pcse_intake.config import Settings
from pcse_intake.inbox_worker.cli.common import UsageProblem
from pcse_intake.inbox_worker.cli.credentials import cli_address
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
@click.pass_context
def add_command(ctx: click.Context, name: str, role: str, password_stdin: bool) -> None:
    """Bootstrap admin NAME from the host, while fewer than two admins can sign in.

    Only admins are made here, and only until two can sign in; after that an admin asks for
    each new account in the console and a second admin confirms it. The password given is
    a one-time password: the first sign-in replaces it and sets up the authenticator app. It
    must follow the PCSE rule: at least 12 characters, with an upper-case and a lower-case
    letter, a number and one of ! $ % ^ & * @ # ? -.
    """
    from pcse_intake.workflows.staff import bootstrap_admin, check_password_rule

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
        staff = bootstrap_admin(
            session, username=name, role=role, password=password, now=now, by=cli_address()
        )
        return staff.username

    username = run_in_transaction(ctx, action)
    click.echo(
        f"staff account {username} ({role}) created; its first sign-in in the console "
        "replaces the password and sets up the authenticator app"
    )
