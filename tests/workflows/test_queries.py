"""What staff read: the queue, and one request with the number to call and its history."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from pcse_intake.config import Settings
from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.decisions import approve, correct_field, verify
from pcse_intake.workflows.errors import InvalidValue, RequestNotFound
from pcse_intake.workflows.queries import list_requests, request_detail
from tests.conftest import TestDatabase
from tests.workflows.conftest import NOW, Feed, email_change


def test_the_queue_is_oldest_first_and_filters_by_state(ready: TestDatabase, feed: Feed) -> None:
    with transaction(ready.sessions) as s:
        feed(s, email_change(), now=NOW + timedelta(minutes=5))
        feed(s, email_change(current=None), now=NOW)
        rows = list_requests(s)
        assert [r.state for r in rows] == ["awaiting_information", "awaiting_verification"]
        assert [r.ref for r in list_requests(s, state="awaiting_verification")] == ["PCSE-000001"]
        assert len(list_requests(s, limit=1)) == 1
        first = rows[0].to_json()
        assert {"ref", "kind", "state", "received_at", "sender"} <= set(first)
        with pytest.raises(InvalidValue, match="unknown state"):
            list_requests(s, state="lost")


def test_detail_offers_only_the_registry_number_and_marks_the_emails_number(
    ready: TestDatabase, feed: Feed
) -> None:
    from pcse_intake.parsers import Contact, ParsedEmail, Party, RequestKind

    parsed = ParsedEmail(
        kind=RequestKind.MAIN_CONTACT_EXTENSION,
        parties=(
            (
                "existing_practice",
                Party(
                    name="Kingsholm Surgery",
                    ods_code="L84502",
                    phone="+447700900999",
                    main_contact=Contact("Dr Peter Vance", "peter.vance@nhs.net"),
                ),
            ),
            ("new_practice", Party(name="Longlevens Surgery", ods_code="L84677")),
        ),
        sender="peter.vance@nhs.net",
        message_id="<q@nhs.net>",
        subject="Extend",
    )
    with transaction(ready.sessions) as s:
        ref = feed(s, parsed).request_ref or ""
        detail = request_detail(s, ref)
        assert detail.number_to_call == "+441174960677"  # Longlevens, from the registry
        assert detail.numbers_in_email == ("+447700900999",)
        assert detail.missing_described[0].startswith("your existing practice's full address")
        assert [(c.before, c.after) for c in detail.changes] == [(None, "peter.vance@nhs.net")]
        data = detail.to_json()
        assert data["numbers_in_email_unverified"] == ["+447700900999"]
        assert data["history"][0] == {
            "at": NOW.isoformat(),
            "action": "received",
            "state": "received",
            "by": "system",
            "note": "from peter.vance@nhs.net",
            "before": None,
            "after": data["history"][0]["after"],
        }


def test_a_number_written_anywhere_in_the_email_is_marked_unverified(
    ready: TestDatabase, feed: Feed
) -> None:
    # A fraudster's "call me on ..." can sit in the prose or the signature, not only in a field.
    parsed = email_change()
    text = "Please update our address.\nCall me on 07700 900123 if anything is unclear.\n"
    with transaction(ready.sessions) as s:
        ref = feed(s, replace(parsed, full_text=text, body_text=text)).request_ref or ""
        detail = request_detail(s, ref)
        assert "+447700900123" in detail.numbers_in_email
        assert detail.number_to_call not in detail.numbers_in_email


def test_detail_shows_corrections_calls_and_the_cooling_off_period(
    ready: TestDatabase, feed: Feed
) -> None:
    with transaction(ready.sessions) as s:
        ref = feed(s, email_change()).request_ref or ""
        correct_field(
            s, ref=ref, by="carol", path="practice.name", value="Ouseburn Surgery", now=NOW
        )
        correct_field(
            s,
            ref=ref,
            by="carol",
            path="practice.new_email",
            value="ouseburn.office@nhs.net",
            now=NOW,
            note="the practice rang",
        )
        verify(s, ref=ref, by="alice", outcome="confirmed", now=NOW, settings=Settings())
        approve(s, ref=ref, by="bob", now=NOW, settings=Settings())
        detail = request_detail(s, ref)
        assert [(c.path, c.after, c.note) for c in detail.corrections] == [
            ("practice.new_email", "ouseburn.office@nhs.net", "the practice rang")
        ]  # setting a field to what it already holds records nothing
        assert [(c.by, c.outcome, c.phone_on_record) for c in detail.calls] == [
            ("alice", "confirmed", True)
        ]
        assert detail.effect_note is not None and "cooling-off" in detail.effect_note
        assert [o.template for o in detail.outbox][-2:] == [
            "email_change_confirmation",
            "email_change_notice",
        ]
        assert detail.changes == ()  # once decided, the history tells what changed


def test_an_unknown_reference_is_refused(database: TestDatabase) -> None:
    with pytest.raises(RequestNotFound), transaction(database.sessions) as s:
        request_detail(s, "PCSE-000404")
