"""Ids handed out before INSERT: a batch's rows go in together, and never collide."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from importlib import resources
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from pcse_intake.config import Settings
from pcse_intake.parsers import parse
from pcse_intake.workflows.db import make_engine, make_sessionmaker, transaction
from pcse_intake.workflows.intake import (
    BatchItem,
    MessageSource,
    parse_options,
    record_message,
    recording_batch,
)
from pcse_intake.workflows.migrate import upgrade
from pcse_intake.workflows.models import InboundMessage, OutboxMessage, Request
from pcse_intake.workflows.models.request import RequestState
from pcse_intake.workflows.row_ids import batch_ids, give_id, in_batch
from tests.conftest import TestDatabase
from tests.workflows.conftest import NOW, load_registry

_INSERT_INTO = re.compile(r"^\s*INSERT INTO (\w+)", re.IGNORECASE)


def _samples(count: int) -> list[bytes]:
    folder = resources.files("pcse_intake").joinpath("data", "samples")
    samples = [p.read_bytes() for p in sorted(folder.iterdir(), key=lambda p: p.name)]
    return [
        re.sub(rb"(?im)^Message-ID:[^\r\n]*", f"Message-ID: <ids-{n}@nhs.net>".encode(), raw)
        for n, raw in enumerate(samples[n % len(samples)] for n in range(count))
    ]


@contextmanager
def _counting_inserts(engine: Engine) -> Iterator[Counter[str]]:
    """INSERT statements sent to the database, by table (an executemany counts once)."""
    counts: Counter[str] = Counter()

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        match = _INSERT_INTO.match(statement)
        if match:
            counts[match.group(1)] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield counts
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _new_request(session: Session) -> Request:
    request = Request(
        kind="email_change",
        state=RequestState.RECEIVED,
        received_at=NOW,
        updated_at=NOW,
        fields={},
        missing=[],
        problems=[],
    )
    session.add(request)
    return request


def test_a_batch_is_inserted_in_a_few_statements_not_a_flush_per_message(
    database: TestDatabase,
) -> None:
    settings = Settings()
    with transaction(database.sessions) as session:
        load_registry(session, now=NOW - timedelta(days=2))
    options = parse_options(settings)
    raws = _samples(60)
    items = [
        BatchItem(raw, MessageSource("INBOX", 1, uid), parse(raw, options))
        for uid, raw in enumerate(raws, start=1)
    ]
    with (
        _counting_inserts(database.engine) as inserts,
        transaction(database.sessions) as session,
        recording_batch(session, items, now=NOW, defer_history=True),
    ):
        assert in_batch(session)
        results = [
            record_message(
                session, i.raw, settings=settings, now=NOW, source=i.source, parsed=i.parsed
            )
            for i in items
        ]
    with database.sessions() as session:
        stored = session.scalar(select(func.count()).select_from(InboundMessage))
        requests = {r.id: r for r in session.scalars(select(Request))}
        outbox_ids = set(session.scalars(select(OutboxMessage.id)))
    assert stored == 60 and len(requests) > 20
    # A flush per message would be 60 INSERTs of messages and one per request; a look-up that
    # reads the database (a reply's request, say) may flush what is pending early.
    assert inserts["inbound_messages"] <= 6, inserts
    assert inserts["requests"] <= 6, inserts
    # The ids the results name (handed out before any INSERT) are the rows' ids.
    assert {r.message_id for r in results} == set(range(1, 61))
    assert {int(r.request_ref[5:]) for r in results if r.request_ref} == set(requests)
    assert {i for r in results for i in r.outbox_ids} <= outbox_ids


def test_outside_a_batch_an_id_comes_from_a_flush(database: TestDatabase) -> None:
    with transaction(database.sessions) as session:
        assert not in_batch(session)
        request = _new_request(session)
        give_id(session, request)
        assert request.id is not None
        assert session.get(Request, request.id) is request  # flushed: the row is there
        assert session.scalar(select(func.count()).select_from(Request)) == 1


def test_batch_ids_count_on_from_the_highest_row_and_leave_the_insert_for_later(
    database: TestDatabase,
) -> None:
    with transaction(database.sessions) as session:
        _new_request(session)
        _new_request(session)
    with transaction(database.sessions) as session, batch_ids(session):
        first, second = _new_request(session), _new_request(session)
        give_id(session, first)
        give_id(session, second)
        assert (first.id, second.id) == (3, 4)
        assert first in session.new  # given an id, not written yet
    with database.sessions() as session:
        assert sorted(session.scalars(select(Request.id))) == [1, 2, 3, 4]


@pytest.mark.postgres
def test_on_postgresql_ids_taken_in_a_batch_never_collide_with_rows_inserted_meanwhile(
    pg_url: str,
) -> None:
    engine = make_engine(pg_url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as batch, batch_ids(batch):
        early = _new_request(batch)
        give_id(batch, early)
        # Another worker, the console or the CLI inserts and commits in the meantime.
        with transaction(sessions) as other:
            beside = _new_request(other)
            other.flush()
        late = _new_request(batch)
        give_id(batch, late)
    assert len({early.id, beside.id, late.id}) == 3
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Request)) == 3
    engine.dispose()
