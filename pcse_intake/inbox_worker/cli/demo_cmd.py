"""`pcse-intake demo`: everything on one machine (embedded IMAP and SMTP, SQLite, console)."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command(name="demo")
@click.option(
    "--folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-data"),
    show_default=True,
    help="Where the demo keeps its database, config and the e-mails it sent.",
)
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
    from pcse_intake.inbox_worker.demo import DemoOptions, run_demo

    def say(text: str) -> None:
        click.echo(text)
        sys.stdout.flush()  # the guide must show at once, also when stdout is a file or pipe

    options = DemoOptions(folder=folder, seconds=seconds, console_port=console_port)
    ctx.exit(run_demo(options, say=say))
