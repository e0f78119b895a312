"""`pcse-intake ingest FILE.eml...`: record messages from files as if they came from the mailbox."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from sqlalchemy.orm import Session, sessionmaker

from pcse_intake.config import Settings
from pcse_intake.inbox_worker.cli.common import Refused, UsageProblem, open_database, settings_from
from pcse_intake.inbox_worker.cli.workflow_support import echo_json

if TYPE_CHECKING:
    from pcse_intake.workflows.intake import IntakeResult


@click.command(name="ingest")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per file, as a list.")
@click.pass_context
def ingest_command(ctx: click.Context, files: tuple[Path, ...], as_json: bool) -> None:
    """Record .eml files exactly as if they had arrived in the mailbox (same dedupe, same replies).

    Every file is read before anything is recorded, so an unreadable one changes nothing.
    Each message is then recorded in its own transaction, as the mailbox worker does; one
    that fails is kept (and counted) for another attempt, the rest go on, and the command
    exits 1.
    """
    raws: list[tuple[Path, bytes]] = []
    for path in files:
        try:
            raws.append((path, path.read_bytes()))
        except OSError as exc:
            raise UsageProblem(f"cannot read {path}: {exc.strerror or exc}") from exc
    settings = settings_from(ctx)
    database = open_database(settings)
    results: list[tuple[Path, IntakeResult | str]] = []
    try:
        for path, raw in raws:
            results.append((path, _record_one(database.sessions, raw, settings)))
    finally:
        database.engine.dispose()
    if as_json:
        echo_json([_as_json(path, r) for path, r in results])
    else:
        for path, r in results:
            click.echo(f"{path}: {_as_text(r)}")
    failed = [path for path, r in results if isinstance(r, str)]
    if failed:
        raise Refused(
            f"{len(failed)} of {len(results)} message(s) could not be processed and were kept"
            f" for another attempt (first: {failed[0]})"
        )


def _record_one(
    sessions: sessionmaker[Session], raw: bytes, settings: Settings
) -> IntakeResult | str:
    """As the mailbox worker does it: one transaction; on a failure, keep the bytes and count."""
    from pcse_intake.workflows.db import transaction
    from pcse_intake.workflows.intake import record_failure, record_message

    try:
        with transaction(sessions) as session:
            return record_message(
                session, raw, settings=settings, now=datetime.now(UTC), origin="file"
            )
    except Exception as exc:  # a defect or a database error: the message must not be lost
        error = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        with transaction(sessions) as session:
            attempts, quarantined = record_failure(
                session,
                raw,
                error=error,
                now=datetime.now(UTC),
                source=None,
                max_attempts=settings.mailbox.max_attempts,
            )
        return f"{'quarantined' if quarantined else 'failed'} (attempt {attempts}): {error}"


def _as_json(path: Path, r: IntakeResult | str) -> dict[str, object]:
    if isinstance(r, str):
        return {"file": str(path), "status": "failed", "error": r}
    return {
        "file": str(path),
        "message_id": r.message_id,
        "status": r.status.value,
        "duplicate": r.duplicate,
        "ref": r.request_ref,
        "outbox_ids": list(r.outbox_ids),
    }


def _as_text(r: IntakeResult | str) -> str:
    if isinstance(r, str):
        return r
    what = f"{r.status.value} {r.request_ref}" if r.request_ref else r.status.value
    dup = " (already recorded)" if r.duplicate else ""
    queued = f", {len(r.outbox_ids)} e-mail(s) queued" if r.outbox_ids else ""
    return f"{what}{dup}{queued}"
