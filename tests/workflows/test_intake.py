"""Intake: every message stored once, filed as a request, a reply, triage or automated."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pcse_intake.config import Settings, WorkflowSettings
from pcse_intake.workflows import checks, registry
from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.intake import MessageSource, record_failure, record_message
from pcse_intake.workflows.models import (
    HistoryEntry,
    InboundMessage,
    MessageStatus,
    Organisation,
    OutboxMessage,
    Person,
    Request,
    RequestState,
)
from tests.conftest import TestDatabase
from tests.workflows.conftest import (
    NOW,
    Feed,
    branch_setup,
    email_change,
    load_registry,
    unknown,
)


def _request(session: Session, ref: str) -> Request:
    request = session.get(Request, int(ref.split("-")[1]))
    assert request is not None
    return request


def _outbox(session: Session) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_a_complete_request_awaits_verification_and_is_acknowledged_to_the_sender(
    ready: TestDatabase, feed: Feed
) -> None:
    with transaction(ready.sessions) as s:
        result = feed(s, email_change())
        assert result.status is MessageStatus.REQUEST and not result.duplicate
        request = _request(s, result.request_ref or "")
        assert request.state == RequestState.AWAITING_VERIFICATION
        assert request.fields["practice"]["new_email"] == "ouseburn.admin@nhs.net"
        [ack] = _outbox(s)
        assert result.outbox_ids == (ack.id,)
        assert (ack.template, ack.to_addr, ack.auto_submitted) == (
            "acknowledgement",
            "ouseburn.surgery@nhs.net",
            "auto-replied",
        )
        assert request.ref in ack.subject
        assert ack.in_reply_to is not None and ack.references == ack.in_reply_to
        message = s.get(InboundMessage, result.message_id)
        assert message is not None and message.raw and len(message.sha256) == 64


def test_the_same_bytes_twice_are_one_record_and_queue_nothing_more(
    ready: TestDatabase, feed: Feed
) -> None:
    parsed = email_change()
    with transaction(ready.sessions) as s:
        first = feed(s, parsed, raw=b"same bytes")
        again = feed(s, parsed, raw=b"same bytes")
        assert again.duplicate and again.message_id == first.message_id
        assert again.request_ref == first.request_ref and again.outbox_ids == ()
        assert s.scalar(select(func.count(Request.id))) == 1
        assert len(_outbox(s)) == 1
        message = s.get(InboundMessage, first.message_id)
        assert message is not None and message.duplicate_count == 1


def test_the_same_imap_location_is_a_duplicate_even_with_other_bytes(
    ready: TestDatabase, feed: Feed
) -> None:
    where = MessageSource("INBOX", 7, 42)
    with transaction(ready.sessions) as s:
        feed(s, email_change(), raw=b"one", source=where)
        again = feed(s, email_change(), raw=b"two", source=where)
        assert again.duplicate
        assert s.scalar(select(func.count(InboundMessage.id))) == 1


def test_same_message_id_with_other_bytes_gives_two_records_flagged_as_collision(
    ready: TestDatabase, feed: Feed
) -> None:
    with transaction(ready.sessions) as s:
        a = feed(s, email_change(message_id="<same@nhs.net>"), raw=b"a")
        b = feed(s, email_change(message_id="<same@nhs.net>"), raw=b"b")
        assert not b.duplicate and a.message_id != b.message_id
        flags = s.scalars(select(InboundMessage.message_id_collision)).all()
        assert flags == [True, True]


def test_missing_fields_ask_the_sender_in_plain_words(ready: TestDatabase, feed: Feed) -> None:
    with transaction(ready.sessions) as s:
        result = feed(s, email_change(current=None))
        request = _request(s, result.request_ref or "")
        assert request.state == RequestState.AWAITING_INFORMATION
        assert request.missing == ["practice.current_email"]
        [ask] = _outbox(s)
        assert ask.template == "missing_information" and ask.auto_submitted == "auto-replied"
        assert "your practice's current practice e-mail address" in ask.body_text
        assert "practice.current_email" not in ask.body_text


def test_a_reply_from_the_sender_fills_the_gap_and_moves_the_request_on(
    ready: TestDatabase, feed: Feed
) -> None:
    with transaction(ready.sessions) as s:
        first = feed(s, email_change(current=None))
        ref = first.request_ref or ""
        [ask] = _outbox(s)
        reply = email_change(
            subject=f"RE: {ref}: we need a few more details",
            in_reply_to=ask.message_id_header,
        )
        result = feed(s, reply, now=NOW + timedelta(hours=2))
        assert result.status is MessageStatus.REPLY and result.request_ref == ref
        request = _request(s, ref)
        assert request.state == RequestState.AWAITING_VERIFICATION
        assert request.missing == []
        assert request.fields["practice"]["current_email"] == "ouseburn.surgery@nhs.net"
        assert [o.template for o in _outbox(s)] == ["missing_information", "acknowledgement"]


def test_a_reply_found_only_by_in_reply_to_is_merged(ready: TestDatabase, feed: Feed) -> None:
    with transaction(ready.sessions) as s:
        ref = feed(s, email_change(current=None)).request_ref
        [ask] = _outbox(s)
        reply = email_change(subject="Re: details", in_reply_to=ask.message_id_header)
        assert feed(s, reply).request_ref == ref


def test_a_reply_from_a_different_address_is_never_merged(ready: TestDatabase, feed: Feed) -> None:
    with transaction(ready.sessions) as s:
        ref = feed(s, email_change(current=None)).request_ref or ""
        hijack = email_change(sender="attacker@nhs.net", subject=f"RE: {ref}", new="evil@nhs.net")
        result = feed(s, hijack)
        assert result.status is MessageStatus.REQUEST and result.request_ref != ref
        original = _request(s, ref)
        assert original.fields["practice"]["new_email"] == "ouseburn.admin@nhs.net"
        new = _request(s, result.request_ref or "")
        codes = [p["code"] for p in new.problems]
        assert "thread_sender_mismatch" in codes and "sender_not_on_record" in codes


def test_unknown_mail_goes_to_triage_and_is_not_answered(ready: TestDatabase, feed: Feed) -> None:
    with transaction(ready.sessions) as s:
        result = feed(s, unknown())
        assert result.status is MessageStatus.TRIAGE and result.request_ref is None
        assert _outbox(s) == [] and s.scalar(select(func.count(Request.id))) == 0


def test_automated_mail_and_our_own_mail_are_stored_and_never_answered(
    ready: TestDatabase, feed: Feed
) -> None:
    with transaction(ready.sessions) as s:
        auto = feed(s, email_change(automated=True))
        ours = feed(s, email_change(sender="pcse.datamanager@nhs.net"))
        assert auto.status is ours.status is MessageStatus.AUTOMATED
        assert _outbox(s) == [] and s.scalar(select(func.count(Request.id))) == 0


def test_backlog_mail_is_recorded_without_an_acknowledgement(
    ready: TestDatabase, feed: Feed
) -> None:
    with transaction(ready.sessions) as s:
        result = feed(s, email_change(), acknowledge=False)
        assert result.request_ref and result.outbox_ids == () and _outbox(s) == []


def test_acknowledgements_are_capped_per_sender_per_day(ready: TestDatabase, feed: Feed) -> None:
    two_a_day = Settings(workflow=WorkflowSettings(acknowledgements_per_sender_per_day=2))
    with transaction(ready.sessions) as s:
        for hours in (0, 1, 2):
            feed(s, email_change(), settings=two_a_day, now=NOW + timedelta(hours=hours))
        assert len(_outbox(s)) == 2
        feed(s, email_change(), settings=two_a_day, now=NOW + timedelta(hours=25))
        assert len(_outbox(s)) == 3
        skipped = s.scalars(
            select(HistoryEntry.note).where(HistoryEntry.action == "reply_skipped")
        ).all()
        assert len(skipped) == 1 and "already had 2 today" in (skipped[0] or "")


def test_reply_to_is_never_used_for_an_acknowledgement(ready: TestDatabase, feed: Feed) -> None:
    with transaction(ready.sessions) as s:
        feed(s, email_change(reply_to="elsewhere@gmail.com"))
        assert [o.to_addr for o in _outbox(s)] == ["ouseburn.surgery@nhs.net"]


def test_registry_checks_are_stored_beside_the_parsers_problems(
    ready: TestDatabase, feed: Feed
) -> None:
    with transaction(ready.sessions) as s:
        result = feed(
            s,
            email_change(
                sender="someone@gmail.com",
                name="Wrong Name Clinic",
                current="not.on.record@nhs.net",
            ),
        )
        request = _request(s, result.request_ref or "")
        codes = {p["code"] for p in request.problems}
        assert {
            "name_mismatch",
            "current_email_not_on_record",
            "sender_not_on_record",
            "not_nhsmail_sender",
        } <= codes
        second = _request(s, feed(s, email_change()).request_ref or "")
        assert "possible_duplicate" in {p["code"] for p in second.problems}


def test_a_failure_keeps_the_raw_bytes_and_quarantines_at_the_limit(
    database: TestDatabase,
) -> None:
    where = MessageSource("INBOX", 1, 9)
    with transaction(database.sessions) as s:
        assert record_failure(
            s, b"poison", error="boom\nline", now=NOW, source=where, max_attempts=3
        ) == (1, False)
        assert record_failure(
            s, b"poison", error="boom", now=NOW, source=where, max_attempts=3
        ) == (2, False)
        assert record_failure(
            s, b"poison", error="boom", now=NOW, source=where, max_attempts=3
        ) == (3, True)
        [row] = s.scalars(select(InboundMessage)).all()
        assert row.raw == b"poison" and row.status == MessageStatus.QUARANTINED
        assert row.error == "boom" and row.uid == 9


def test_a_message_that_failed_before_is_processed_when_it_comes_again(
    ready: TestDatabase, feed: Feed
) -> None:
    with transaction(ready.sessions) as s:
        record_failure(s, b"flaky", error="db hiccup", now=NOW, source=None, max_attempts=3)
        result = feed(s, email_change(), raw=b"flaky")
        assert not result.duplicate and result.status is MessageStatus.REQUEST
        assert s.scalar(select(func.count(InboundMessage.id))) == 1


def test_everything_is_in_the_callers_transaction(ready: TestDatabase, feed: Feed) -> None:
    session = ready.sessions()
    with session.begin():
        feed(session, email_change())
        session.rollback()
    session.close()
    with transaction(ready.sessions) as s:
        assert s.scalar(select(func.count(InboundMessage.id))) == 0
        assert s.scalar(select(func.count(OutboxMessage.id))) == 0


def test_a_registry_without_the_practice_flags_an_unknown_code(
    database: TestDatabase, feed: Feed
) -> None:
    with transaction(database.sessions) as s:
        result = feed(s, email_change(code="Z99999"))
        request = _request(s, result.request_ref or "")
        assert "unknown_ods_code" in {p["code"] for p in request.problems}
        load_registry(s)


def test_a_message_about_a_decided_request_waits_in_triage_linked_to_it(
    ready: TestDatabase, feed: Feed
) -> None:
    from pcse_intake.workflows.decisions import approve, verify

    with transaction(ready.sessions) as s:
        ref = feed(s, email_change(sender="someone.new@nhs.net")).request_ref or ""
        note = "confirmed by the practice manager"  # the sender is not on record
        verify(
            s, ref=ref, by="alice", outcome="confirmed", now=NOW, settings=Settings(), notes=note
        )
        # Applied at once: no change waits, so the reply stops nothing (pending_changes.py).
        at_once = Settings(workflow=WorkflowSettings(cooling_off_hours=0))
        approve(s, ref=ref, by="bob", now=NOW, settings=at_once)
        notice = s.scalars(
            select(OutboxMessage).where(OutboxMessage.template == "email_change_notice")
        ).one()
        # The old address (on record) writes back: "we did not ask for this".
        objection = unknown(
            sender="ouseburn.surgery@nhs.net",
            subject=f"RE: {notice.subject}",
            in_reply_to=notice.message_id_header,
        )
        result = feed(s, objection)
        assert result.status is MessageStatus.TRIAGE and result.request_ref == ref
        assert result.outbox_ids == ()
        request = _request(s, ref)
        assert request.state == RequestState.COMPLETED
        last = s.scalars(
            select(HistoryEntry)
            .where(HistoryEntry.request_id == request.id)
            .order_by(HistoryEntry.id.desc())
        ).first()
        assert last is not None and last.action == "message_for_triage"
        assert "ouseburn.surgery@nhs.net" in (last.note or "")


def test_an_unknown_message_from_another_address_in_a_thread_is_triage_linked(
    ready: TestDatabase, feed: Feed
) -> None:
    with transaction(ready.sessions) as s:
        ref = feed(s, email_change(current=None)).request_ref or ""
        result = feed(s, unknown(sender="colleague@nhs.net", subject=f"RE: {ref}"))
        assert result.status is MessageStatus.TRIAGE and result.request_ref == ref
        assert _request(s, ref).state == RequestState.AWAITING_INFORMATION


def test_a_request_without_a_sender_is_recorded_and_nobody_is_written_to(
    ready: TestDatabase, feed: Feed
) -> None:
    with transaction(ready.sessions) as s:
        result = feed(s, email_change(sender=None))  # type: ignore[arg-type]
        request = _request(s, result.request_ref or "")
        assert request.state == RequestState.AWAITING_VERIFICATION and request.sender is None
        assert "sender_not_on_record" in {p["code"] for p in request.problems}
        assert _outbox(s) == []
        notes = s.scalars(
            select(HistoryEntry.note).where(HistoryEntry.action == "reply_skipped")
        ).all()
        assert notes == ["no acknowledgement: the message has no sender address"]


def test_an_unsafe_sender_address_gets_no_reply_and_staff_are_told(
    ready: TestDatabase, feed: Feed
) -> None:
    with transaction(ready.sessions) as s:
        result = feed(s, email_change(sender="x@nhs.net\r\nbcc: evil@example.com"))
        request = _request(s, result.request_ref or "")
        assert _outbox(s) == [] and result.outbox_ids == ()
        [flag] = [p for p in request.problems if p["code"] == "cannot_reply"]
        assert "line breaks" in flag["message"]


def test_a_parse_given_by_the_caller_is_used_and_the_bytes_are_not_parsed_again(
    ready: TestDatabase, feed: Feed, settings: Settings
) -> None:
    # The poller parses a batch in another process and hands each parse in with its bytes.
    raw = b"bytes the fake parser was never taught"
    with transaction(ready.sessions) as s:
        result = record_message(s, raw, settings=settings, now=NOW, parsed=email_change())
        request = _request(s, result.request_ref or "")
        assert request.fields["practice"]["new_email"] == "ouseburn.admin@nhs.net"
        [ack] = _outbox(s)
        assert result.outbox_ids == (ack.id,)


def test_a_given_parse_is_ignored_when_the_location_holds_other_bytes(
    ready: TestDatabase, feed: Feed, settings: Settings
) -> None:
    # A row left RECEIVED at this IMAP location holds other bytes: those are what is filed.
    where = MessageSource("INBOX", 7, 42)
    kept = b"the bytes kept at this location"
    feed.teach(kept, email_change(new="kept.bytes@nhs.net"))
    with transaction(ready.sessions) as s:
        record_failure(s, kept, error="boom", now=NOW, source=where, max_attempts=5)
    with transaction(ready.sessions) as s:
        result = record_message(
            s,
            b"other bytes",
            settings=settings,
            now=NOW,
            source=where,
            parsed=email_change(new="other.bytes@nhs.net"),
        )
        request = _request(s, result.request_ref or "")
        assert request.fields["practice"]["new_email"] == "kept.bytes@nhs.net"


def test_the_registry_checks_read_an_organisations_main_contacts_once(
    ready: TestDatabase, feed: Feed, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A branch set-up asks about the main practice's contacts twice (the named contact and
    # the sender); the second answer comes from the first.
    asked: list[int] = []
    real = registry.main_contacts

    def counting(session: Session, org: Organisation) -> list[Person]:
        asked.append(org.id)
        return real(session, org)

    monkeypatch.setattr(checks, "main_contacts", counting)
    with transaction(ready.sessions) as s:
        feed(s, branch_setup(sender="someone.else@nhs.net"))
    assert asked and len(asked) == len(set(asked))
