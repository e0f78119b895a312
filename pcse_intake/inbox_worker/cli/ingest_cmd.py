"""`pcse-intake ingest FILE.eml...`: record messages from files as if they came from the mailbox."""

from __future__ import annotations

from pathlib import Path

import click

from pcse_intake.inbox_worker.cli.common import UsageProblem, open_database, settings_from
from pcse_intake.inbox_worker.cli.workflow_support import echo_json, refusals


@click.command(name="ingest")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per file, as a list.")
@click.pass_context
def ingest_command(ctx: click.Context, files: tuple[Path, ...], as_json: bool) -> None:
    """Record .eml files exactly as if they had arrived in the mailbox (same dedupe, same replies).

    Every file is read before anything is recorded, so an unreadable one changes nothing.
    Each message is then recorded in its own transaction, as the mailbox worker does.
    """
    from datetime import UTC, datetime

    from pcse_intake.workflows.db import transaction
    from pcse_intake.workflows.intake import record_message

    raws: list[tuple[Path, bytes]] = []
    for path in files:
        try:
            raws.append((path, path.read_bytes()))
        except OSError as exc:
            raise UsageProblem(f"cannot read {path}: {exc.strerror or exc}") from exc
    settings = settings_from(ctx)
    database = open_database(settings)
    results = []
    try:
        for path, raw in raws:
            with refusals(), transaction(database.sessions) as session:
                result = record_message(
                    session, raw, settings=settings, now=datetime.now(UTC), origin="file"
                )
            results.append((path, result))
    finally:
        database.engine.dispose()
    if as_json:
        echo_json(
            [
                {
                    "file": str(path),
                    "message_id": r.message_id,
                    "status": r.status.value,
                    "duplicate": r.duplicate,
                    "ref": r.request_ref,
                    "outbox_ids": list(r.outbox_ids),
                }
                for path, r in results
            ]
        )
        return
    for path, r in results:
        what = f"{r.status.value} {r.request_ref}" if r.request_ref else r.status.value
        dup = " (already recorded)" if r.duplicate else ""
        queued = f", {len(r.outbox_ids)} e-mail(s) queued" if r.outbox_ids else ""
        click.echo(f"{path}: {what}{dup}{queued}")
