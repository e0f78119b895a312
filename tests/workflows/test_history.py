"""History is append-only: written with each change, and never updated or deleted."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from pcse_intake.config import Settings, WorkflowSettings
from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.decisions import approve, verify
from pcse_intake.workflows.history import HistoryIsAppendOnly
from pcse_intake.workflows.models import HistoryEntry
from tests.conftest import TestDatabase
from tests.workflows.conftest import NOW, Feed, email_change

WORKFLOWS = Path(__file__).parents[2] / "pcse_intake" / "workflows"


def test_the_database_refuses_to_update_or_delete_history(ready: TestDatabase) -> None:
    for statement in ("UPDATE history SET note = 'x'", "DELETE FROM history"):
        with pytest.raises(DatabaseError, match="append-only"), ready.engine.begin() as conn:
            conn.execute(text(statement))
    with transaction(ready.sessions) as s:
        assert (s.scalar(select(func.count(HistoryEntry.id))) or 0) > 0


def test_the_orm_refuses_to_change_or_delete_a_history_row(ready: TestDatabase) -> None:
    with pytest.raises(HistoryIsAppendOnly), transaction(ready.sessions) as s:
        entry = s.scalars(select(HistoryEntry)).first()
        assert entry is not None
        entry.note = "rewritten"
        s.flush()
    with pytest.raises(HistoryIsAppendOnly), transaction(ready.sessions) as s:
        entry = s.scalars(select(HistoryEntry)).first()
        s.delete(entry)
        s.flush()


def test_no_workflow_code_updates_or_deletes_history() -> None:
    """Reads the source: no update(HistoryEntry) / delete(HistoryEntry) / SQL on `history`."""
    offenders: list[str] = []
    for path in WORKFLOWS.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("update", "delete")
                and any(isinstance(a, ast.Name) and a.id == "HistoryEntry" for a in node.args)
            ):
                offenders.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                lowered = node.value.lower()
                if "update history" in lowered or "delete from history" in lowered:
                    offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_each_change_writes_history_in_its_own_transaction(ready: TestDatabase, feed: Feed) -> None:
    with transaction(ready.sessions) as s:
        ref = feed(s, email_change()).request_ref or ""
        verify(s, ref=ref, by="alice", outcome="confirmed", now=NOW, settings=Settings())
    count_before = _count(ready)
    with pytest.raises(RuntimeError), transaction(ready.sessions) as s:
        approve(s, ref=ref, by="bob", now=NOW, settings=Settings())
        raise RuntimeError("crash before commit")
    assert _count(ready) == count_before  # the approval and its history went together
    at_once = Settings(workflow=WorkflowSettings(cooling_off_hours=0))  # written at approval
    with transaction(ready.sessions) as s:
        approve(s, ref=ref, by="bob", now=NOW, settings=at_once)
        actions = s.scalars(select(HistoryEntry.action).where(HistoryEntry.id > count_before)).all()
    assert actions == ["registry_changed", "approved"]


def _count(database: TestDatabase) -> int:
    with transaction(database.sessions) as s:
        return s.scalar(select(func.max(HistoryEntry.id))) or 0
