"""Writing the append-only history: one row per change, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.orm import Mapper, ORMExecuteState, Session

from pcse_intake.parsers.normalise import mask_phones
from pcse_intake.workflows.models import HistoryEntry, InboundMessage, Request

# Where `deferring` keeps, in `Session.info`, the rows recorded but not yet written.
_DEFERRED = "pcse_history_deferred"


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
    message: InboundMessage | None = None,
    entity: str | None = None,
    entity_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    note: str | None = None,
) -> HistoryEntry | None:
    """Append one history row; the caller's transaction commits it with the change itself.

    `message` names the message by its row instead of `message_id`: inside `deferring` it
    need not be flushed yet (its id is read when the history row is written). Returns the
    new row, or None inside `deferring` (written later, in the same transaction).
    """
    deferred = session.info.get(_DEFERRED)
    if message is not None and message_id is None and message.id is None and deferred is None:
        session.flush()  # the message's id is needed now
    values = {
        "at": at,
        "actor": actor,
        "action": action,
        "request_id": request.id if request is not None else None,
        "message_id": message_id if message is None else message.id,
        "entity": entity,
        "entity_id": entity_id,
        "state": request.state if request is not None else None,
        # Phone numbers are shown whole only where a request is verified (battery case 55);
        # the audit keeps their last three digits, enough to tell two numbers apart.
        "before": _masked(before),
        "after": _masked(after),
        "note": mask_phones(note) if note is not None else None,
    }
    if deferred is not None:
        deferred.append((values, message))
        return None
    entry = HistoryEntry(**values)
    session.add(entry)
    return entry


def _masked(value: Any) -> Any:
    """A JSON value with every phone number in its strings masked (`mask_phones`)."""
    if isinstance(value, str):
        return mask_phones(value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    return value


@contextmanager
def deferring(session: Session) -> Iterator[None]:
    """Collect the rows recorded inside the block and write them in one statement at its end.

    For a batch of intake: dozens of history rows become one multi-row INSERT instead of an
    ORM object each. Nothing changes for readers: any ORM query of the history in this
    session writes the collected rows first. On an exception nothing is written (the caller's
    transaction is rolled back anyway).
    """
    session.info[_DEFERRED] = []
    try:
        yield
        write_deferred(session)
    finally:
        session.info.pop(_DEFERRED, None)


def is_deferring(session: Session) -> bool:
    return session.info.get(_DEFERRED) is not None


def write_deferred(session: Session) -> None:
    """Write the rows `deferring` has collected so far (Core: it cannot re-enter the ORM hook)."""
    deferred = session.info.get(_DEFERRED)
    if not deferred:
        return
    # The rows they name go first: in a batch (`row_ids`) messages and requests have their
    # ids long before they are inserted.
    session.flush()
    rows = [values if m is None else {**values, "message_id": m.id} for values, m in deferred]
    deferred.clear()
    session.connection().execute(insert(HistoryEntry), rows)


@event.listens_for(Session, "do_orm_execute")
def _write_before_reading(state: ORMExecuteState) -> None:
    if state.session.info.get(_DEFERRED) and any(
        m.class_ is HistoryEntry for m in state.all_mappers
    ):
        write_deferred(state.session)


# The database refuses UPDATE and DELETE on `history` (triggers in migration 0002); these
# listeners make the ORM refuse too, before anything reaches the database.
@event.listens_for(HistoryEntry, "before_update")
def _refuse_update(_mapper: Mapper[Any], _connection: Any, target: HistoryEntry) -> None:
    raise HistoryIsAppendOnly(f"history row {target.id} cannot be changed")


@event.listens_for(HistoryEntry, "before_delete")
def _refuse_delete(_mapper: Mapper[Any], _connection: Any, target: HistoryEntry) -> None:
    raise HistoryIsAppendOnly(f"history row {target.id} cannot be deleted")
