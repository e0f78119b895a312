"""History rows collected by `deferring`: written at the end, seen by any query before then."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.history import deferring, record
from pcse_intake.workflows.models import HistoryEntry, InboundMessage, MessageStatus
from tests.conftest import TestDatabase
from tests.workflows.conftest import NOW


def _count(session: Session) -> int:
    return session.scalar(select(func.count(HistoryEntry.id))) or 0


def test_a_query_inside_the_block_sees_the_rows_recorded_so_far(database: TestDatabase) -> None:
    with transaction(database.sessions) as s, deferring(s):
        record(s, actor="system", action="one", at=NOW)
        record(s, actor="system", action="two", at=NOW)
        seen = list(s.scalars(select(HistoryEntry.action).order_by(HistoryEntry.id)))
        record(s, actor="system", action="three", at=NOW)
    assert seen == ["one", "two"]
    with database.sessions() as s:
        assert list(s.scalars(select(HistoryEntry.action).order_by(HistoryEntry.id))) == [
            "one",
            "two",
            "three",
        ]


def test_a_message_named_by_its_row_gets_its_id_once_the_row_is_written(
    database: TestDatabase,
) -> None:
    with transaction(database.sessions) as s, deferring(s):
        row = InboundMessage(sha256="0" * 64, raw=b"x", size=1, status=MessageStatus.RECEIVED)
        s.add(row)  # not flushed: no id yet
        record(s, actor="system", action="message_received", at=NOW, message=row)
        assert row.id is None
    with database.sessions() as s:
        entry = s.scalars(select(HistoryEntry)).one()
        assert entry.message_id == row.id and row.id is not None


def test_nothing_is_written_when_the_block_fails(database: TestDatabase) -> None:
    with pytest.raises(RuntimeError), transaction(database.sessions) as s, deferring(s):
        record(s, actor="system", action="lost", at=NOW)
        raise RuntimeError("the batch failed")
    with database.sessions() as s:
        assert _count(s) == 0
