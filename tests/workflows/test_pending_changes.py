"""The cooling-off period: a waiting e-mail change is applied once when due, or stopped first."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pcse_intake.config import Settings, WorkflowSettings
from pcse_intake.parsers import ParsedEmail
from pcse_intake.workflows.db import make_engine, make_sessionmaker, transaction
from pcse_intake.workflows.decisions import approve, verify
from pcse_intake.workflows.errors import IllegalTransition, InvalidValue, NotPermitted
from pcse_intake.workflows.models import (
    HistoryEntry,
    MessageStatus,
    OutboxMessage,
    Request,
    RequestState,
)
from pcse_intake.workflows.pending_changes import (
    DueReport,
    apply_due_changes,
    cancel_change,
    describe_change,
)
from pcse_intake.workflows.registry import organisation
from tests.conftest import TestDatabase
from tests.workflows.conftest import NOW, Feed, email_change, unknown

STAFF = "pcse.team@nhs.net"
SETTINGS = Settings(workflow=WorkflowSettings(staff_digest_address=STAFF))
DUE = NOW + timedelta(hours=24)
OLD, NEW = "ouseburn.surgery@nhs.net", "ouseburn.admin@nhs.net"


def _approved(ready: TestDatabase, feed: Feed) -> str:
    """An e-mail change of A84615 approved at NOW, due to take effect at DUE."""
    with transaction(ready.sessions) as s:
        ref = feed(s, email_change()).request_ref or ""
        note = "the practice manager confirmed it"
        verify(s, ref=ref, by="alice", outcome="confirmed", now=NOW, settings=SETTINGS, notes=note)
        approve(s, ref=ref, by="bob", now=NOW, settings=SETTINGS)
    return ref


def _request(s: Session, ref: str) -> Request:
    request = s.get(Request, int(ref[5:]))
    assert request is not None
    return request


def _email(s: Session) -> str | None:
    org = organisation(s, "A84615")
    assert org is not None
    return org.email


def _sent(s: Session, ref: str, template: str) -> list[str]:
    return list(
        s.scalars(
            select(OutboxMessage.to_addr).where(
                OutboxMessage.request_id == _request(s, ref).id, OutboxMessage.template == template
            )
        )
    )


def _actions(s: Session, ref: str) -> list[tuple[str, str]]:
    rows = s.execute(
        select(HistoryEntry.action, HistoryEntry.actor)
        .where(HistoryEntry.request_id == _request(s, ref).id)
        .order_by(HistoryEntry.id)
    )
    return [(a, b) for a, b in rows]


def _reply(ref: str, sender: str, s: Session, **extra: object) -> ParsedEmail:
    notice = s.scalars(
        select(OutboxMessage).where(OutboxMessage.template == "email_change_notice")
    ).one()
    return unknown(
        sender=sender,
        subject=f"RE: {notice.subject}",
        in_reply_to=notice.message_id_header,
        **extra,
    )


def test_a_waiting_change_is_written_only_when_its_time_comes(
    ready: TestDatabase, feed: Feed
) -> None:
    ref = _approved(ready, feed)
    with transaction(ready.sessions) as s:
        assert apply_due_changes(s, now=DUE - timedelta(minutes=1), settings=SETTINGS) == (
            DueReport()
        )
        assert _email(s) == OLD
        assert describe_change(_request(s, ref)) == (
            "Takes effect at 09:30 UTC on 3 March 2026 unless stopped"
        )
    with transaction(ready.sessions) as s:
        assert apply_due_changes(s, now=DUE, settings=SETTINGS).applied == [ref]
        assert _email(s) == NEW
        request = _request(s, ref)
        assert (request.state, request.change_status) == ("completed", "applied")
        assert request.change_applied_at == DUE
        assert _actions(s, ref)[-2:] == [
            ("registry_changed", "system"),
            ("change_applied", "system"),
        ]
    with transaction(ready.sessions) as s:
        assert apply_due_changes(s, now=DUE + timedelta(hours=1), settings=SETTINGS) == DueReport()


def test_two_daemons_apply_a_due_change_exactly_once(ready: TestDatabase, feed: Feed) -> None:
    """Two engines, one thread each, at the same moment: FOR UPDATE SKIP LOCKED on
    PostgreSQL (the other skips the locked row), BEGIN IMMEDIATE on SQLite."""
    ref = _approved(ready, feed)
    barrier = threading.Barrier(2)
    reports: list[DueReport] = []
    errors: list[BaseException] = []

    def daemon() -> None:
        engine = make_engine(ready.url)
        try:
            barrier.wait(timeout=10)
            with transaction(make_sessionmaker(engine)) as s:
                reports.append(apply_due_changes(s, now=DUE, settings=SETTINGS))
        except BaseException as exc:  # reported below, with the thread's own failure
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=daemon) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sorted(len(r.applied) for r in reports) == [0, 1]
    with transaction(ready.sessions) as s:
        applied = [a for a, _ in _actions(s, ref) if a in ("change_applied", "registry_changed")]
        assert applied == ["registry_changed", "change_applied"]
        assert _email(s) == NEW


def test_a_change_whose_old_address_was_replaced_meanwhile_is_stopped_and_staff_told(
    ready: TestDatabase, feed: Feed
) -> None:
    ref = _approved(ready, feed)
    with transaction(ready.sessions) as s:
        org = organisation(s, "A84615")
        assert org is not None
        org.email = "ouseburn.reception@nhs.net"  # e.g. a registry import since approval
    with transaction(ready.sessions) as s:
        assert apply_due_changes(s, now=DUE, settings=SETTINGS).stopped == [ref]
        assert _email(s) == "ouseburn.reception@nhs.net"
        request = _request(s, ref)
        assert (request.state, request.change_status) == ("cancelled", "stopped")
        assert "now holds ouseburn.reception@nhs.net" in (request.change_stop_reason or "")
        assert _sent(s, ref, "email_change_stopped_staff") == [STAFF]
        assert _actions(s, ref)[-1] == ("change_stopped", "system")


def test_a_reply_from_the_old_address_stops_the_change(ready: TestDatabase, feed: Feed) -> None:
    ref = _approved(ready, feed)
    with transaction(ready.sessions) as s:
        objection = _reply(ref, OLD.upper(), s)
        result = feed(s, objection, now=NOW + timedelta(hours=2), settings=SETTINGS)
        # The objection still reaches a person, linked to the request.
        assert (result.status, result.request_ref) == (MessageStatus.TRIAGE, ref)
        request = _request(s, ref)
        assert (request.state, request.change_status) == (RequestState.CANCELLED, "stopped")
        assert request.change_stopped_by == OLD.upper()
        assert ("change_stopped", OLD.upper()) in _actions(s, ref)
        assert _sent(s, ref, "email_change_stopped") == [NEW]
        assert _sent(s, ref, "email_change_stopped_staff") == [STAFF]
    with transaction(ready.sessions) as s:
        assert apply_due_changes(s, now=DUE, settings=SETTINGS) == DueReport()
        assert _email(s) == OLD


@pytest.mark.parametrize(
    ("sender", "automated"),
    [("ouseburn.admin@nhs.net", False), ("someone.else@nhs.net", False), (OLD, True)],
    ids=["new-address", "other-address", "out-of-office"],
)
def test_only_a_person_at_the_old_address_can_stop_it_by_e_mail(
    ready: TestDatabase, feed: Feed, sender: str, automated: bool
) -> None:
    ref = _approved(ready, feed)
    with transaction(ready.sessions) as s:
        feed(s, _reply(ref, sender, s, automated=automated), now=NOW + timedelta(hours=2))
        request = _request(s, ref)
        assert (request.state, request.change_status) == ("completed", "scheduled")
        assert _sent(s, ref, "email_change_stopped") == []
    with transaction(ready.sessions) as s:
        assert apply_due_changes(s, now=DUE, settings=SETTINGS).applied == [ref]


def test_staff_cancel_a_waiting_change_with_a_reason_and_both_addresses_are_told(
    ready: TestDatabase, feed: Feed
) -> None:
    ref = _approved(ready, feed)
    later = NOW + timedelta(hours=3)
    with pytest.raises(NotPermitted), transaction(ready.sessions) as s:
        cancel_change(s, ref=ref, by="alice", reason="phoned", now=later, settings=SETTINGS)
    with pytest.raises(InvalidValue, match="reason"), transaction(ready.sessions) as s:
        cancel_change(s, ref=ref, by="carol", reason="  ", now=later, settings=SETTINGS)
    with transaction(ready.sessions) as s:
        reason = "the practice manager phoned to say they did not ask for it"
        request = cancel_change(s, ref=ref, by="carol", reason=reason, now=later, settings=SETTINGS)
        assert (request.state, request.change_status) == ("cancelled", "cancelled")
        assert sorted(_sent(s, ref, "email_change_stopped")) == [NEW, OLD]
        assert _actions(s, ref)[-1] == ("change_cancelled", "carol")
        assert (describe_change(request) or "").startswith("Cancelled at 12:30 UTC on 2 March")
    refused = pytest.raises(IllegalTransition, match="no e-mail change waiting")
    with refused, transaction(ready.sessions) as s:
        cancel_change(s, ref=ref, by="bob", reason="again", now=later, settings=SETTINGS)
    with transaction(ready.sessions) as s:
        assert apply_due_changes(s, now=DUE, settings=SETTINGS) == DueReport()
        assert _email(s) == OLD


def _count(s: Session, action: str) -> int:
    return int(s.scalar(select(func.count()).where(HistoryEntry.action == action)) or 0)


def test_a_change_applied_at_approval_cannot_be_cancelled(ready: TestDatabase, feed: Feed) -> None:
    at_once = Settings(workflow=WorkflowSettings(cooling_off_hours=0))
    with transaction(ready.sessions) as s:
        ref = feed(s, email_change()).request_ref or ""
        verify(s, ref=ref, by="alice", outcome="confirmed", now=NOW, settings=at_once)
        approve(s, ref=ref, by="bob", now=NOW, settings=at_once)
    with pytest.raises(IllegalTransition, match="it is applied"), transaction(ready.sessions) as s:
        cancel_change(s, ref=ref, by="bob", reason="late", now=NOW, settings=at_once)
    with transaction(ready.sessions) as s:
        assert _email(s) == NEW and _count(s, "change_cancelled") == 0


def test_a_practice_with_no_address_on_record_gets_its_first_one_when_due(
    ready: TestDatabase, feed: Feed
) -> None:
    with transaction(ready.sessions) as s:
        org = organisation(s, "A84615")
        assert org is not None
        org.email = None
    ref = _approved(ready, feed)
    with transaction(ready.sessions) as s:
        assert _sent(s, ref, "email_change_notice") == []  # nobody to tell
        assert apply_due_changes(s, now=DUE, settings=SETTINGS).applied == [ref]
        assert _email(s) == NEW
