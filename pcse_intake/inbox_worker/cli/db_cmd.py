"""`pcse-intake db upgrade`: create or migrate the database."""

from __future__ import annotations

import click

from pcse_intake.inbox_worker.cli.common import open_database, settings_from


@click.group(name="db")
def db_group() -> None:
    """Database administration."""


@db_group.command(name="upgrade")
@click.pass_context
def upgrade_command(ctx: click.Context) -> None:
    """Create the database, or migrate it to the newest schema."""
    from pcse_intake.workflows.migrate import upgrade

    settings = settings_from(ctx)
    database = open_database(settings, require_migrated=False)
    upgrade(database.engine)
    where = database.engine.url.render_as_string(hide_password=True)
    click.echo(f"database {where} is up to date")
