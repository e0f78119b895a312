"""Primary keys handed out before the INSERT, so a batch's new rows are written in one flush.

A request's reference, its history, its acknowledgement and the IntakeResult all need ids.
Outside a batch they come from a flush per message, which is what most of a message's
recording cost was (the ORM's unit of work, then an UPDATE of the rows it had just
inserted). Inside a batch (`batch_ids`) each new inbound message, request and outbox row
is given its id when it is created, and the whole batch is inserted at its end, a few
multi-row statements in all.

Where the ids come from:
- PostgreSQL: `nextval` of the column's own sequence, so they never collide with rows
  another worker, the console or the CLI inserts at the same moment.
- SQLite: one past the table's highest id, counted on from there. Safe because every
  SQLite transaction here begins with BEGIN IMMEDIATE (`db.make_engine`): the batch holds
  the only write lock from its first statement to its commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Table, func, select, text
from sqlalchemy.orm import Session

_KEY = "pcse_intake_row_ids"


class RowIds:
    """The next ids of each table for one transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.postgres = session.get_bind().dialect.name == "postgresql"
        self._last: dict[str, int] = {}

    def take(self, table: Table) -> int:
        # No autoflush: the batch's pending rows are written at its end, not by this look-up.
        with self.session.no_autoflush:
            if self.postgres:
                next_id = self.session.scalar(
                    text("SELECT nextval(pg_get_serial_sequence(:table, 'id'))"),
                    {"table": table.name},
                )
                return int(next_id)
            last = self._last.get(table.name)
            if last is None:
                last = self.session.scalar(select(func.max(table.c.id))) or 0
        self._last[table.name] = last + 1
        return last + 1


@contextmanager
def batch_ids(session: Session) -> Iterator[None]:
    """Inside the block, `give_id` hands out ids instead of flushing.

    Only for a block without savepoints: a rolled-back savepoint would leave the counter
    past rows that were never written (harmless on PostgreSQL, whose sequences skip anyway,
    but pointless), and a careful batch flushes each message to find its failures.
    """
    session.info[_KEY] = RowIds(session)
    try:
        yield
    finally:
        session.info.pop(_KEY, None)


def give_id(session: Session, row: Any) -> None:
    """Make sure `row` (added to the session) has its primary key now.

    In a batch, from the batch's ids, with the INSERT left for the batch's one flush;
    otherwise by flushing, as any ORM code would.
    """
    if row.id is not None:
        return
    ids = session.info.get(_KEY)
    if isinstance(ids, RowIds):
        row.id = ids.take(row.__table__)
    else:
        session.flush()


def in_batch(session: Session) -> bool:
    """True inside `batch_ids`: flushes are left to the end of the batch."""
    return isinstance(session.info.get(_KEY), RowIds)
