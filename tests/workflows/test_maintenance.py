"""Retention purge (bytes go, history stays, idempotent) and the staff reminder digest."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from pcse_intake.config import Settings
from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.maintenance import (
    DIGEST_TEMPLATE,
    purge_raw_messages,
    queue_reminder_digest,
    waiting_on_verification,
    working_days_before,
)
from pcse_intake.workflows.models import (
    HistoryEntry,
    InboundMessage,
    OutboxMessage,
    Request,
    RequestState,
)
from tests.conftest import TestDatabase

MONDAY = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _message(session: object, n: int, received: datetime) -> None:
    session.add(  # type: ignore[attr-defined]
        InboundMessage(
            sha256=f"{n:064d}",
            raw=b"raw bytes",
            size=9,
            received_at=received,
            status="request",
            subject=f"message {n}",
        )
    )


def test_purge_drops_old_bytes_only_keeps_the_rows_and_history_and_is_idempotent(
    database: TestDatabase,
) -> None:
    with transaction(database.sessions) as session:
        _message(session, 1, MONDAY - timedelta(days=800))
        _message(session, 2, MONDAY - timedelta(days=10))
    with transaction(database.sessions) as session:
        assert purge_raw_messages(session, now=MONDAY, older_than_days=730) == 1
    with transaction(database.sessions) as session:
        assert purge_raw_messages(session, now=MONDAY, older_than_days=730) == 0
    with database.sessions() as session:
        rows = {m.subject: m for m in session.scalars(select(InboundMessage))}
        assert rows["message 1"].raw is None and rows["message 1"].purged_at == MONDAY
        assert rows["message 2"].raw == b"raw bytes"
        notes = session.scalars(
            select(HistoryEntry.note).where(HistoryEntry.action == "retention_purge")
        ).all()
        assert len(notes) == 1 and "1 messages" in (notes[0] or "")


def test_working_days_skip_weekends() -> None:
    assert working_days_before(MONDAY, 1) == MONDAY - timedelta(days=3)  # Friday
    assert working_days_before(MONDAY, 3) == MONDAY - timedelta(days=5)  # Wednesday
    assert working_days_before(MONDAY, 0) == MONDAY


def _request(
    session: object, since: datetime, state: str = RequestState.AWAITING_VERIFICATION
) -> None:
    session.add(  # type: ignore[attr-defined]
        Request(
            kind="email_change",
            state=state,
            fields={},
            missing=[],
            problems=[],
            practice_name="Greenlane Surgery",
            ods_code="A12345",
            awaiting_verification_since=since,
            received_at=since,
        )
    )


def test_the_digest_lists_only_requests_waiting_longer_than_the_working_days(
    database: TestDatabase,
) -> None:
    with transaction(database.sessions) as session:
        _request(session, MONDAY - timedelta(days=6))  # last Tuesday: 4 working days
        _request(session, MONDAY - timedelta(days=4))  # Thursday: 2 working days
        _request(session, MONDAY - timedelta(days=9), state=RequestState.VERIFIED)
    with database.sessions() as session:
        waiting = waiting_on_verification(session, now=MONDAY, working_days=3)
    assert [w.ref for w in waiting] == ["PCSE-000001"]


def test_the_digest_is_queued_once_a_day_and_not_at_all_without_an_address(
    database: TestDatabase,
) -> None:
    base = Settings()
    off = base
    on = dataclasses.replace(
        base, workflow=dataclasses.replace(base.workflow, staff_digest_address="team@nhs.net")
    )
    with transaction(database.sessions) as session:
        _request(session, MONDAY - timedelta(days=7))
    with transaction(database.sessions) as session:
        assert queue_reminder_digest(session, settings=off, now=MONDAY) is None
        first = queue_reminder_digest(session, settings=on, now=MONDAY)
        again = queue_reminder_digest(session, settings=on, now=MONDAY + timedelta(hours=3))
    assert first is not None and again is None
    with database.sessions() as session:
        [row] = session.scalars(select(OutboxMessage)).all()
    assert row.template == DIGEST_TEMPLATE and row.to_addr == "team@nhs.net"
    assert "PCSE-000001" in row.body_text and "\n" not in row.subject
