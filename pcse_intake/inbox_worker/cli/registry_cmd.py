"""`pcse-intake registry import FILE.csv`: load organisations (epraccur) or practice contacts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from sqlalchemy.orm import Session

from pcse_intake.config import Settings
from pcse_intake.inbox_worker.cli.common import UsageProblem
from pcse_intake.inbox_worker.cli.workflow_support import echo_json, run_in_transaction

if TYPE_CHECKING:
    from pcse_intake.workflows.registry_import import ImportResult


@click.group(name="registry")
def registry_group() -> None:
    """The registry of organisations and their main contacts."""


@registry_group.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--by", default="system", show_default=True, help="Who is importing (history).")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.pass_context
def import_command(ctx: click.Context, file: Path, by: str, as_json: bool) -> None:
    """Import an NHS ODS epraccur.csv extract, or a practice_contacts.csv file (told by its header).

    All or nothing: a bad row is named by its line and nothing is imported.
    """
    from pcse_intake.workflows.registry_import import import_registry

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise UsageProblem(f"cannot read {file}: {exc.strerror or exc}") from exc

    def action(session: Session, _settings: Settings, now: datetime) -> ImportResult:
        return import_registry(session, data, name=file.name, by=by, now=now)

    result = run_in_transaction(ctx, action)
    if as_json:
        echo_json(result.to_json())
    else:
        click.echo(
            f"{file.name}: {result.layout}, {result.rows} rows: {result.created} created, "
            f"{result.updated} updated, {result.unchanged} unchanged"
        )
