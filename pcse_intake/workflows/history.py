"""Writing the append-only history: one row per change, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Mapper, Session

from pcse_intake.workflows.models import HistoryEntry, Request


class HistoryIsAppendOnly(Exception):
    """Raised when code tries to change or delete a history row (a defect, never expected)."""


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    at: datetime,
    request: Request | None = None,
    message_id: int | None = None,
    entity: str | None = None,
    entity_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    note: str | None = None,
) -> HistoryEntry:
    """Append one history row; the caller's transaction commits it with the change itself."""
    entry = HistoryEntry(
        at=at,
        actor=actor,
        action=action,
        request_id=request.id if request is not None else None,
        message_id=message_id,
        entity=entity,
        entity_id=entity_id,
        state=request.state if request is not None else None,
        before=before,
        after=after,
        note=note,
    )
    session.add(entry)
    return entry


# The database refuses UPDATE and DELETE on `history` (triggers in migration 0002); these
# listeners make the ORM refuse too, before anything reaches the database.
@event.listens_for(HistoryEntry, "before_update")
def _refuse_update(_mapper: Mapper[Any], _connection: Any, target: HistoryEntry) -> None:
    raise HistoryIsAppendOnly(f"history row {target.id} cannot be changed")


@event.listens_for(HistoryEntry, "before_delete")
def _refuse_delete(_mapper: Mapper[Any], _connection: Any, target: HistoryEntry) -> None:
    raise HistoryIsAppendOnly(f"history row {target.id} cannot be deleted")
