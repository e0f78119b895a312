"""`pcse-intake demo`: everything on one machine (embedded IMAP and SMTP, SQLite, console);
`pcse-intake demo credentials NAME`: a demo account's password and current code."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pcse_intake.inbox_worker.cli.common import Refused

FOLDER = click.option(
    "--folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-data"),
    show_default=True,
    help="Where the demo keeps its database, config and the e-mails it sent.",
)


@click.group(name="demo", invoke_without_command=True)
@FOLDER
@click.option(
    "--for",
    "seconds",
    type=click.FloatRange(min=0),
    default=None,
    help="Stop by itself after this many seconds.",
)
@click.option("--console-port", type=int, default=None, help="Console port (default 8080 if free).")
@click.pass_context
def demo_command(
    ctx: click.Context, folder: Path, seconds: float | None, console_port: int | None
) -> None:
    """Run the whole system locally with sample e-mails; prints what to try next."""
    if ctx.invoked_subcommand is not None:
        return
    from pcse_intake.inbox_worker.demo import DemoOptions, run_demo

    def say(text: str) -> None:
        click.echo(text)
        sys.stdout.flush()  # the guide must show at once, also when stdout is a file or pipe

    options = DemoOptions(folder=folder, seconds=seconds, console_port=console_port)
    ctx.exit(run_demo(options, say=say))


@demo_command.command(name="credentials")
@click.argument("name")
@FOLDER
def credentials_command(name: str, folder: Path) -> None:
    """Print demo account NAME's password and the code its authenticator app shows now.

    Two lines, as `--credentials-stdin` reads them, so they can be piped into a command.
    It knows only the accounts a demo wrote into FOLDER: it is no use anywhere else.
    """
    from datetime import UTC, datetime

    from pcse_intake.inbox_worker.demo import current_code, read_accounts

    account = read_accounts(folder).get(name)
    if account is None:
        raise Refused(f"{name} is not a demo account in {folder} (run `pcse-intake demo` first)")
    click.echo(account.password)
    click.echo(current_code(folder, account, datetime.now(UTC)))
