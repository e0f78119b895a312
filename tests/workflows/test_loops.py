"""Battery cases 20 and 21: a responder that answers everything, and a flood, over real intake.

The responder sets none of the automated headers, never threads, and its canned text reads
as a request; like broken responders do, it also repeats itself every few minutes when we
stay silent. Time is simulated: each message is recorded with its own `now`.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from pcse_intake.config import Settings
from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.intake import record_message
from pcse_intake.workflows.loops import LOOP_ACTION, LOOP_TEMPLATE
from pcse_intake.workflows.models import HistoryEntry, InboundMessage, OutboxMessage
from tests.conftest import TestDatabase
from tests.workflows.conftest import NOW

RESPONDER = "ouseburn.surgery@nhs.net"  # the practice address on record (A84615)
STAFF = "pcse.caseworkers@nhs.net"
COMPLETE = "New email: ouseburn.admin@nhs.net\r\n"


def _raw(sender: str, n: int, *, complete: bool) -> bytes:
    """The responder's canned answer: a request for an e-mail change, nothing automated."""
    return (
        f"From: Ouseburn Surgery <{sender}>\r\nTo: pcse.datamanager@nhs.net\r\n"
        f"Subject: Thank you for contacting Ouseburn Surgery\r\n"
        f"Message-ID: <responder-{n}@nhs.net>\r\nDate: Mon, 02 Mar 2026 09:00:00 +0000\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "Thank you for your e-mail. Please update our practice email address.\r\n"
        "Practice name: Ouseburn Surgery\r\nODS code: A84615\r\n"
        "Current email: ouseburn.surgery@nhs.net\r\n" + (COMPLETE if complete else "")
    ).encode()


def _settings(**workflow: object) -> Settings:
    settings = Settings()
    changed = dataclasses.replace(settings.workflow, staff_digest_address=STAFF, **workflow)  # type: ignore[arg-type]
    return dataclasses.replace(settings, workflow=changed)


def _ping_pong(
    database: TestDatabase,
    *,
    complete: bool,
    hours: int,
    repeat: timedelta,
    settings: Settings | None = None,
) -> tuple[int, list[datetime]]:
    """Run the responder for `hours`; returns (messages it sent, when we wrote to it)."""
    settings = settings or _settings()
    end = NOW + timedelta(hours=hours)
    due = [NOW]  # when the responder writes next: its repeats and its answers to us
    sent = 0
    ours: list[datetime] = []
    while due:
        now = min(due)
        due.remove(now)
        if now >= end:
            continue
        with transaction(database.sessions) as session:
            record_message(
                session, _raw(RESPONDER, sent, complete=complete), settings=settings, now=now
            )
            replies = session.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.to_addr == RESPONDER, OutboxMessage.created_at == now
                )
            ).all()
        sent += 1
        ours.extend(now for _ in replies)
        due.extend(now + timedelta(minutes=1) for _ in replies)  # it answers each of ours
        if not any(d > now for d in due) or not replies:
            due.append(now + repeat)  # and repeats itself while we stay silent
    return sent, ours


@pytest.mark.parametrize("complete", [True, False], ids=["acknowledged", "asked-for-details"])
def test_a_ping_pong_responder_gets_few_replies_and_raises_one_loop_alert(
    ready: TestDatabase, complete: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pcse_intake.workflows.loops")
    sent, ours = _ping_pong(ready, complete=complete, hours=12, repeat=timedelta(minutes=4))
    assert sent >= 180  # the responder really kept writing
    with ready.sessions() as session:
        stored = session.scalars(
            select(InboundMessage.id).where(InboundMessage.sender == RESPONDER)
        ).all()
        acks = session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.to_addr == RESPONDER, OutboxMessage.template == "acknowledgement"
            )
        ).all()
        alerts = session.scalars(
            select(OutboxMessage).where(OutboxMessage.template == LOOP_TEMPLATE)
        ).all()
        warned = session.scalars(
            select(HistoryEntry.after).where(HistoryEntry.action == LOOP_ACTION)
        ).all()
    assert len(stored) == sent  # nothing lost
    assert len(acks) <= 1  # at most one acknowledgement a day
    # Three at most in the first hour, then none: by its tenth message it is a likely loop.
    assert 1 <= len(ours) <= 3
    assert len(alerts) == 1 and alerts[0].to_addr == STAFF and RESPONDER in alerts[0].body_text
    assert warned == [{"address": RESPONDER, "messages_in_last_day": 10}]
    loop_lines = [r for r in caplog.records if r.getMessage() == LOOP_ACTION]
    assert len(loop_lines) == 1 and loop_lines[0].levelno == logging.WARNING


def test_without_the_loop_threshold_the_hourly_cap_alone_allows_three_an_hour(
    ready: TestDatabase,
) -> None:
    settings = _settings(loop_alert_after=100_000)
    _sent, ours = _ping_pong(
        ready, complete=False, hours=3, repeat=timedelta(minutes=4), settings=settings
    )
    assert len(ours) > 3  # the window slides: the responder is answered again later
    # any four of ours in a row span at least an hour: never more than three in one hour
    assert all(b - a >= timedelta(hours=1) for a, b in zip(ours, ours[3:], strict=False))


def test_the_loop_alert_comes_again_the_next_day_and_needs_no_staff_address(
    ready: TestDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pcse_intake.workflows.loops")
    for day in range(2):
        for n in range(15):
            now = NOW + timedelta(days=day, minutes=n)
            with transaction(ready.sessions) as session:
                raw = _raw(RESPONDER, day * 100 + n, complete=True)
                record_message(session, raw, settings=Settings(), now=now)
    with ready.sessions() as session:
        warned = session.scalars(select(HistoryEntry.at).where(HistoryEntry.action == LOOP_ACTION))
        alerts = session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.template == LOOP_TEMPLATE)
        ).all()
    assert len(list(warned)) == 2  # once a day
    assert alerts == []  # no staff address configured: the log line and history only
    assert [r.getMessage() for r in caplog.records].count(LOOP_ACTION) == 2


def test_a_flood_from_one_sender_leaves_others_processed_and_answered(
    ready: TestDatabase,
) -> None:
    """Case 21, by counts: while one sender floods, each other practice is still answered."""
    settings = _settings()
    others = [f"practice{n}.manager@nhs.net" for n in range(5)]
    for n in range(250):
        now = NOW + timedelta(seconds=n)
        with transaction(ready.sessions) as session:
            record_message(session, _raw(RESPONDER, n, complete=True), settings=settings, now=now)
            if n % 50 == 25:
                other = others[n // 50]
                raw = _raw(other, 1000 + n, complete=True)
                record_message(session, raw, settings=settings, now=now)
    with ready.sessions() as session:
        answered = session.scalars(
            select(OutboxMessage.to_addr).where(OutboxMessage.template == "acknowledgement")
        ).all()
        stored = session.scalars(select(InboundMessage.sender)).all()
    assert sorted(answered) == sorted([RESPONDER, *others])
    assert stored.count(RESPONDER) == 250 and all(stored.count(o) == 1 for o in others)
