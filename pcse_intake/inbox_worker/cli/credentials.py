"""Who decides on the command line: `--by STAFF` is a claim until STAFF's password and current
authenticator code prove it, checked exactly as the console checks a sign-in.

The check runs in a transaction of its own that commits whatever the answer, so a wrong
password or code counts towards the account's lock as it does in the console; only then does
the decision run, in the next transaction.
"""

from __future__ import annotations

import getpass
import sys
from dataclasses import dataclass

import click

from pcse_intake.inbox_worker.cli import workflow_support
from pcse_intake.inbox_worker.cli.common import Refused, open_database, settings_from

credentials_stdin = click.option(
    "--credentials-stdin",
    is_flag=True,
    help="Read STAFF's password from the first line of standard input and the current "
    "authenticator code from the second, instead of asking (for scripts).",
)


@dataclass(frozen=True)
class Credentials:
    password: str
    code: str

    def __repr__(self) -> str:  # never the password or code, even in a traceback
        return "Credentials(...)"


def read_credentials(*, from_stdin: bool, by: str, second_factor: bool) -> Credentials:
    """The password and code, from standard input or asked on the terminal (not echoed)."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        code = sys.stdin.readline().rstrip("\r\n")
        return Credentials(password, code)
    password = click.prompt(f"Password for {by}", hide_input=True, err=True)
    code = ""
    if second_factor:
        code = click.prompt("Code from the authenticator app", hide_input=True, err=True)
    return Credentials(password, code)


def cli_address() -> str:
    """Where a command-line attempt comes from, for the audit and the per-address throttle:
    the operating-system account that ran it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"cli:{user}"[:64]


def authenticate_staff(ctx: click.Context, *, by: str, from_stdin: bool) -> str:
    """Check that whoever runs this command is `by`; Refused (exit 1) unless so.

    Returns the account's name as stored (the decision is made in that name only).
    """
    from pcse_intake.workflows.authentication import authenticate
    from pcse_intake.workflows.db import transaction

    settings = settings_from(ctx)
    second_factor = settings.console.second_factor != "off"
    credentials = read_credentials(from_stdin=from_stdin, by=by, second_factor=second_factor)
    database = open_database(settings)
    try:
        with workflow_support.refusals(), transaction(database.sessions) as session:
            result = authenticate(
                session,
                username=by,
                password=credentials.password,
                code=credentials.code,
                address=cli_address(),
                now=workflow_support.clock(),
                second_factor=second_factor,
            )
            name = result.staff.username if result.staff is not None else None
    finally:
        database.engine.dispose()
    if name is None:
        raise Refused(_refusal(result.outcome.value, by))
    return name


def _refusal(outcome: str, by: str) -> str:
    if outcome == "wrong_code":
        return "not signed in: the authenticator code is not correct"
    if outcome == "replayed_code":
        return "not signed in: that code has been used already; wait for the app's next code"
    if outcome == "throttled":
        return "not signed in: too many failed sign-ins by this user; wait 15 minutes"
    if outcome == "not_set_up":
        return (
            f"not signed in: {by} has not set up the account yet; sign in to the console once "
            "(your own password and the authenticator app), then try again"
        )
    # The same words for a wrong password, an unknown name, a locked or a disabled account.
    return (
        "not signed in: the staff name or password is not correct, or the account cannot be "
        "used now (five wrong passwords or codes in a row lock it)"
    )
