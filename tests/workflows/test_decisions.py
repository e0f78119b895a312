"""Staff decisions: calls on the number on record, four eyes, approval applied once, rejection."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pcse_intake.config import Settings, WorkflowSettings
from pcse_intake.parsers import Contact, ParsedEmail, Party, Problem, RequestKind
from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.decisions import approve, correct_field, reject, verify
from pcse_intake.workflows.errors import (
    FourEyesViolation,
    IllegalTransition,
    InvalidValue,
    NotPermitted,
    RequestNotFound,
    VerificationRefused,
    WorkflowRefusal,
)
from pcse_intake.workflows.models import (
    Correction,
    HistoryEntry,
    Organisation,
    OutboxMessage,
    Request,
    RequestState,
    VerificationCall,
)
from pcse_intake.workflows.registry import main_contacts, organisation
from tests.conftest import TestDatabase
from tests.workflows.conftest import NOW, Feed, branch_setup, email_change

LATER = NOW + timedelta(hours=1)


def _new(ready: TestDatabase, feed: Feed, parsed: ParsedEmail | None = None) -> str:
    with transaction(ready.sessions) as s:
        ref = feed(s, parsed or email_change()).request_ref
    assert ref is not None
    return ref


def _verified(ready: TestDatabase, feed: Feed, parsed: ParsedEmail | None = None) -> str:
    ref = _new(ready, feed, parsed)
    with transaction(ready.sessions) as s:
        verify(s, ref=ref, by="alice", outcome="confirmed", now=LATER, settings=Settings())
    return ref


def _templates(s: Session, ref: str) -> list[tuple[str, str]]:
    request = s.get(Request, int(ref[5:]))
    assert request is not None
    rows = s.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.request_id == request.id)
        .order_by(OutboxMessage.id)
    )
    return [(o.template, o.to_addr) for o in rows]


def test_a_confirmed_call_on_the_number_on_record_verifies(ready: TestDatabase, feed: Feed) -> None:
    ref = _new(ready, feed)
    with transaction(ready.sessions) as s:
        request = verify(
            s, ref=ref, by="alice", outcome="confirmed", now=LATER, settings=Settings()
        )
        assert request.state == RequestState.VERIFIED and request.verified_by == "alice"
        [call] = s.scalars(select(VerificationCall)).all()
        assert call.phone == "+441914980231" and call.phone_on_record


def test_a_call_to_another_number_needs_a_note(ready: TestDatabase, feed: Feed) -> None:
    ref = _new(ready, feed)
    refused = pytest.raises(VerificationRefused, match="not the number")
    with refused, transaction(ready.sessions) as s:
        verify(
            s,
            ref=ref,
            by="alice",
            outcome="confirmed",
            now=LATER,
            settings=Settings(),
            phone="07700 900123",
        )
    with transaction(ready.sessions) as s:
        request = verify(
            s,
            ref=ref,
            by="alice",
            outcome="confirmed",
            now=LATER,
            settings=Settings(),
            phone="07700 900123",
            notes="practice switchboard down",
        )
        assert request.state == RequestState.VERIFIED
        [call] = s.scalars(select(VerificationCall)).all()
        assert call.phone == "+447700900123" and not call.phone_on_record


def test_no_answer_is_counted_and_keeps_the_state(ready: TestDatabase, feed: Feed) -> None:
    ref = _new(ready, feed)
    for _ in range(2):
        with transaction(ready.sessions) as s:
            request = verify(
                s, ref=ref, by="alice", outcome="no_answer", now=LATER, settings=Settings()
            )
    assert request.state == RequestState.AWAITING_VERIFICATION and request.no_answer_count == 2


def test_a_failed_call_blocks_verification_and_the_request_can_be_rejected(
    ready: TestDatabase, feed: Feed
) -> None:
    ref = _new(ready, feed)
    with transaction(ready.sessions) as s:
        verify(
            s,
            ref=ref,
            by="alice",
            outcome="failed",
            now=LATER,
            settings=Settings(),
            notes="practice knows nothing of it",
        )
    with pytest.raises(VerificationRefused, match="reject it"), transaction(ready.sessions) as s:
        verify(s, ref=ref, by="alice", outcome="confirmed", now=LATER, settings=Settings())
    with transaction(ready.sessions) as s:
        request = reject(
            s,
            ref=ref,
            by="bob",
            reason="The practice did not ask for this.",
            now=LATER,
            settings=Settings(),
        )
        assert request.state == RequestState.REJECTED
        assert ("rejection", "ouseburn.surgery@nhs.net") in _templates(s, ref)


def test_the_verifier_may_not_approve_what_they_verified(ready: TestDatabase, feed: Feed) -> None:
    ref = _new(ready, feed)
    with transaction(ready.sessions) as s:
        verify(s, ref=ref, by="bob", outcome="confirmed", now=LATER, settings=Settings())
    with pytest.raises(FourEyesViolation, match="different"), transaction(ready.sessions) as s:
        approve(s, ref=ref, by="bob", now=LATER, settings=Settings())
    relaxed = Settings(workflow=WorkflowSettings(four_eyes=False))
    with transaction(ready.sessions) as s:
        assert approve(s, ref=ref, by="bob", now=LATER, settings=relaxed).state == "completed"


def test_who_may_do_what(ready: TestDatabase, feed: Feed) -> None:
    ref = _verified(ready, feed)
    with pytest.raises(NotPermitted, match="verifier"), transaction(ready.sessions) as s:
        approve(s, ref=ref, by="alice", now=LATER, settings=Settings())
    with pytest.raises(NotPermitted, match="no staff account"), transaction(ready.sessions) as s:
        approve(s, ref=ref, by="mallory", now=LATER, settings=Settings())
    with pytest.raises(NotPermitted), transaction(ready.sessions) as s:
        reject(s, ref=ref, by="alice", reason="x", now=LATER, settings=Settings())


def test_refusals_for_unknown_references_and_wrong_states(ready: TestDatabase, feed: Feed) -> None:
    ref = _new(ready, feed)
    with transaction(ready.sessions) as s:
        with pytest.raises(RequestNotFound):
            approve(s, ref="PCSE-999999", by="bob", now=LATER, settings=Settings())
        with pytest.raises(RequestNotFound, match="not a request reference"):
            approve(s, ref="hello", by="bob", now=LATER, settings=Settings())
        with pytest.raises(IllegalTransition, match="must be verified"):
            approve(s, ref=ref, by="bob", now=LATER, settings=Settings())
        with pytest.raises(InvalidValue):
            verify(s, ref=ref, by="alice", outcome="maybe", now=LATER, settings=Settings())


def test_approving_an_email_change_schedules_it_and_tells_both_addresses(
    ready: TestDatabase, feed: Feed
) -> None:
    ref = _verified(ready, feed)
    with transaction(ready.sessions) as s:
        request = approve(s, ref=ref, by="bob", now=LATER, settings=Settings())
        assert request.state == RequestState.COMPLETED
        assert request.effective_at == LATER + timedelta(hours=24)
        assert (request.change_status, request.change_old_email) == (
            "scheduled",
            "ouseburn.surgery@nhs.net",
        )
        org = organisation(s, "A84615")
        # The new address gets nothing until the cooling-off period is over.
        assert org is not None and org.email == "ouseburn.surgery@nhs.net"
        assert _templates(s, ref) == [
            ("acknowledgement", "ouseburn.surgery@nhs.net"),
            ("email_change_confirmation", "ouseburn.admin@nhs.net"),
            ("email_change_notice", "ouseburn.surgery@nhs.net"),
        ]
        notice = s.scalars(
            select(OutboxMessage).where(OutboxMessage.template == "email_change_notice")
        ).one()
        assert "reply to this e-mail" in notice.body_text and ref in notice.subject
        assert "10:30 UTC on 3 March 2026" in notice.body_text
        assert "any reply stops the change" in notice.body_text
        assert notice.auto_submitted == "auto-generated"


def test_with_no_cooling_off_the_email_change_is_written_at_approval(
    ready: TestDatabase, feed: Feed
) -> None:
    ref = _verified(ready, feed)
    at_once = Settings(workflow=WorkflowSettings(cooling_off_hours=0))
    with transaction(ready.sessions) as s:
        request = approve(s, ref=ref, by="bob", now=LATER, settings=at_once)
        assert (request.change_status, request.change_applied_at) == ("applied", LATER)
        org = organisation(s, "A84615")
        assert org is not None and org.email == "ouseburn.admin@nhs.net"
        notice = s.scalars(
            select(OutboxMessage).where(OutboxMessage.template == "email_change_notice")
        ).one()
        assert "has been changed" in notice.body_text


def test_a_second_approval_is_refused_and_applies_nothing_twice(
    ready: TestDatabase, feed: Feed
) -> None:
    ref = _verified(ready, feed)
    with transaction(ready.sessions) as s:
        approve(s, ref=ref, by="bob", now=LATER, settings=Settings())
    refused = pytest.raises(IllegalTransition, match=r"already completed \(approved by bob\)")
    with refused, transaction(ready.sessions) as s:
        approve(s, ref=ref, by="carol", now=LATER, settings=Settings())
    with transaction(ready.sessions) as s:
        assert len(_templates(s, ref)) == 3


def test_approving_a_branch_creates_it_under_its_parent_with_its_main_contact(
    ready: TestDatabase, feed: Feed
) -> None:
    ref = _verified(ready, feed, branch_setup())
    with transaction(ready.sessions) as s:
        approve(s, ref=ref, by="bob", now=LATER, settings=Settings())
        branch = organisation(s, "N81790001")
        assert branch is not None and branch.parent is not None
        assert branch.parent.ods_code == "N81790" and branch.source == "request"
        assert [p.email for p in main_contacts(s, branch)] == ["tom.reid@nhs.net"]
        assert _templates(s, ref)[-1] == ("branch_access", "tom.reid@nhs.net")


def test_approving_an_extension_links_the_existing_contact_to_the_new_practice(
    ready: TestDatabase, feed: Feed
) -> None:
    parsed = ParsedEmail(
        kind=RequestKind.MAIN_CONTACT_EXTENSION,
        parties=(
            (
                "existing_practice",
                Party(
                    name="Kingsholm Surgery",
                    ods_code="L84502",
                    address="3 Kingsholm Road, Bristol, BS2 9QT",
                    phone="+441174960815",
                    main_contact=Contact("Dr Peter Vance", "peter.vance@nhs.net"),
                ),
            ),
            (
                "new_practice",
                Party(
                    name="Longlevens Surgery",
                    ods_code="L84677",
                    address="12 Church Road, Bristol, BS7 8SA",
                ),
            ),
        ),
        sender="peter.vance@nhs.net",
        message_id="<ext@nhs.net>",
        subject="Extend main contact",
    )
    ref = _verified(ready, feed, parsed)
    with transaction(ready.sessions) as s:
        approve(s, ref=ref, by="bob", now=LATER, settings=Settings())
        new = organisation(s, "L84677")
        assert new is not None and [p.email for p in main_contacts(s, new)] == [
            "peter.vance@nhs.net"
        ]
        assert _templates(s, ref)[-1] == (
            "main_contact_extension_confirmation",
            "peter.vance@nhs.net",
        )


def test_approving_a_new_practice_creates_it_and_its_contact(
    ready: TestDatabase, feed: Feed
) -> None:
    parsed = ParsedEmail(
        kind=RequestKind.NEW_PRACTICE_SETUP,
        parties=(
            (
                "new_practice",
                Party(
                    name="Bankside Dental",
                    ods_code="V099001",
                    org_type="dental",
                    address="1 Bank Side, Leeds, LS1 1AA",
                    phone="+441134960999",
                    main_contact=Contact("Dr Ada Brook", "ada.brook@nhs.net"),
                ),
            ),
        ),
        sender="ada.brook@nhs.net",
        message_id="<np@nhs.net>",
        subject="New practice",
    )
    ref = _new(ready, feed, parsed)
    # Not in the registry yet: there is no number on record, so staff must say where the
    # number they called came from.
    refused = pytest.raises(VerificationRefused, match="no telephone number")
    with refused, transaction(ready.sessions) as s:
        verify(s, ref=ref, by="alice", outcome="confirmed", now=LATER, settings=Settings())
    with transaction(ready.sessions) as s:
        verify(
            s,
            ref=ref,
            by="alice",
            outcome="confirmed",
            now=LATER,
            settings=Settings(),
            phone="0113 496 0000",  # not the e-mail's 0113 496 0999: that one cannot verify
            notes="number from the ODS report PDF",
        )
        approve(s, ref=ref, by="bob", now=LATER, settings=Settings())
        org = organisation(s, "V099001")
        assert org is not None and org.org_type == "dental" and org.postcode == "LS1 1AA"
        assert [p.name for p in main_contacts(s, org)] == ["Dr Ada Brook"]
        assert _templates(s, ref)[-1] == ("new_practice_access", "ada.brook@nhs.net")


def test_approval_that_cannot_apply_changes_nothing(ready: TestDatabase, feed: Feed) -> None:
    ref = _new(ready, feed, email_change(code="Z99999"))
    with transaction(ready.sessions) as s:
        verify(
            s,
            ref=ref,
            by="alice",
            outcome="confirmed",
            now=LATER,
            settings=Settings(),
            phone="07700900111",
            notes="found in the ODS portal",
        )
    refused = pytest.raises(WorkflowRefusal, match="not in the registry")
    with refused, transaction(ready.sessions) as s:
        approve(s, ref=ref, by="bob", now=LATER, settings=Settings())
    with transaction(ready.sessions) as s:
        assert s.get(Request, int(ref[5:])).state == RequestState.VERIFIED  # type: ignore[union-attr]


def test_a_correction_is_audited_and_sends_a_verified_request_back(
    ready: TestDatabase, feed: Feed
) -> None:
    ref = _verified(ready, feed)
    with transaction(ready.sessions) as s:
        request = correct_field(
            s,
            ref=ref,
            by="carol",
            path="practice.new_email",
            value=" Ouseburn.Reception@NHS.net ",
            now=LATER,
            note="typo",
        )
        assert request.fields["practice"]["new_email"] == "ouseburn.reception@nhs.net"
        assert request.state == RequestState.AWAITING_VERIFICATION
        assert request.verified_by is None
        [c] = s.scalars(select(Correction)).all()
        assert (c.before, c.after, c.staff) == ("ouseburn.admin@nhs.net", c.after, "carol")
    with transaction(ready.sessions) as s:
        verify(s, ref=ref, by="alice", outcome="confirmed", now=LATER, settings=Settings())
    # Four eyes also covers the person who changed the request.
    with pytest.raises(FourEyesViolation, match="corrected"), transaction(ready.sessions) as s:
        approve(s, ref=ref, by="carol", now=LATER, settings=Settings())


def test_a_correction_that_fills_the_last_gap_moves_the_request_on(
    ready: TestDatabase, feed: Feed
) -> None:
    ref = _new(ready, feed, email_change(current=None))
    with transaction(ready.sessions) as s:
        request = correct_field(
            s,
            ref=ref,
            by="alice",
            path="practice.current_email",
            value="ouseburn.surgery@nhs.net",
            now=LATER,
        )
        assert request.state == RequestState.AWAITING_VERIFICATION and request.missing == []
        with pytest.raises(InvalidValue, match="not a field"):
            correct_field(s, ref=ref, by="alice", path="branch.name", value="x", now=LATER)
        with pytest.raises(InvalidValue, match="valid e-mail"):
            correct_field(
                s, ref=ref, by="alice", path="practice.new_email", value="a\nb", now=LATER
            )


def test_rejecting_needs_a_reason_and_an_open_request(ready: TestDatabase, feed: Feed) -> None:
    ref = _new(ready, feed)
    with pytest.raises(InvalidValue, match="reason"), transaction(ready.sessions) as s:
        reject(s, ref=ref, by="bob", reason="  ", now=LATER, settings=Settings())
    with transaction(ready.sessions) as s:
        reject(
            s,
            ref=ref,
            by="bob",
            reason="Duplicate of an earlier request.",
            now=LATER,
            settings=Settings(),
        )
    with pytest.raises(IllegalTransition, match="rejected"), transaction(ready.sessions) as s:
        reject(s, ref=ref, by="bob", reason="again", now=LATER, settings=Settings())


def test_two_people_approving_at_the_same_moment_exactly_one_succeeds(
    ready: TestDatabase, feed: Feed
) -> None:
    """Real concurrent sessions, one thread each: PostgreSQL row lock (FOR UPDATE) and the
    version column; on SQLite the writer lock taken by BEGIN IMMEDIATE."""
    sessions = ready.sessions
    with transaction(sessions) as s:
        ref = feed(s, email_change()).request_ref or ""
    with transaction(sessions) as s:
        verify(s, ref=ref, by="alice", outcome="confirmed", now=LATER, settings=Settings())

    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def approve_as(who: str) -> None:
        barrier.wait(timeout=10)
        try:
            with transaction(sessions) as s:
                approve(s, ref=ref, by=who, now=LATER, settings=Settings())
            outcomes[who] = "approved"
        except WorkflowRefusal as exc:
            outcomes[who] = f"refused: {exc}"

    threads = [threading.Thread(target=approve_as, args=(w,)) for w in ("bob", "carol")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(v.split(":")[0] for v in outcomes.values()) == ["approved", "refused"]
    assert any("completed" in v or "same moment" in v for v in outcomes.values())
    with transaction(sessions) as s:
        assert len(_templates(s, ref)) == 3  # one acknowledgement, one set of confirmations
        history = s.scalars(
            select(HistoryEntry.action).where(HistoryEntry.action == "approved")
        ).all()
        assert history == ["approved"]


def test_an_invalid_address_to_write_to_refuses_approval_and_changes_nothing(
    ready: TestDatabase, feed: Feed
) -> None:
    ref = _verified(ready, feed, email_change(new="chapelfield.surgery.@nhs.net"))
    refused = pytest.raises(WorkflowRefusal, match="not a valid e-mail address")
    with refused, transaction(ready.sessions) as s:
        approve(s, ref=ref, by="bob", now=LATER, settings=Settings())
    with transaction(ready.sessions) as s:
        org = organisation(s, "A84615")
        assert org is not None and org.email == "ouseburn.surgery@nhs.net"
        assert _templates(s, ref) == [("acknowledgement", "ouseburn.surgery@nhs.net")]


def test_a_request_that_failed_dmarc_needs_an_admin_and_a_note_to_confirm(
    ready: TestDatabase, feed: Feed
) -> None:
    from pcse_intake.parsers import AuthVerdict

    ref = _new(ready, feed, email_change(auth_verdict=AuthVerdict.FAIL))
    for who, notes in (("alice", "rang them"), ("bob", "rang them"), ("root", None)):
        refused = pytest.raises(VerificationRefused, match="DMARC")
        with refused, transaction(ready.sessions) as s:
            verify(
                s, ref=ref, by=who, outcome="confirmed", now=LATER, settings=Settings(), notes=notes
            )
    with transaction(ready.sessions) as s:
        request = verify(
            s,
            ref=ref,
            by="root",
            outcome="confirmed",
            now=LATER,
            settings=Settings(),
            notes="practice manager confirmed by phone",
        )
        assert request.state == RequestState.VERIFIED


def test_an_email_change_to_a_non_nhs_address_cannot_be_approved(
    ready: TestDatabase, feed: Feed
) -> None:
    ref = _verified(ready, feed, email_change(new="ouseburn@hotmail.co.uk"))
    with pytest.raises(WorkflowRefusal, match="not an nhs"), transaction(ready.sessions) as s:
        approve(s, ref=ref, by="bob", now=LATER, settings=Settings())


def test_only_the_main_contact_on_record_can_be_extended(ready: TestDatabase, feed: Feed) -> None:
    parsed = ParsedEmail(
        kind=RequestKind.MAIN_CONTACT_EXTENSION,
        parties=(
            (
                "existing_practice",
                Party(
                    name="Kingsholm Surgery",
                    ods_code="L84502",
                    address="3 Kingsholm Road, Bristol, BS2 9QT",
                    phone="+441174960815",
                    main_contact=Contact("Ms Martina Coyle", "martina.coyle@nhs.net"),
                ),
            ),
            (
                "new_practice",
                Party(
                    name="Longlevens Surgery",
                    ods_code="L84677",
                    address="12 Church Road, Bristol, BS7 8SA",
                ),
            ),
        ),
        sender="martina.coyle@nhs.net",
        message_id="<ext2@nhs.net>",
        subject="Extend main contact",
    )
    ref = _verified(ready, feed, parsed)
    with transaction(ready.sessions) as s:
        problems = {p["code"] for p in s.get(Request, int(ref[5:])).problems}  # type: ignore[union-attr]
        assert "main_contact_not_on_record" in problems
    refused = pytest.raises(WorkflowRefusal, match="not the main contact we hold")
    with refused, transaction(ready.sessions) as s:
        approve(s, ref=ref, by="bob", now=LATER, settings=Settings())
    with transaction(ready.sessions) as s:
        new = organisation(s, "L84677")
        assert new is not None and main_contacts(s, new) == []


def _confirm(s: Session, ref: str, **call: str) -> Request:
    """alice's confirming call, with what the test gives (phone, notes)."""
    return verify(
        s, ref=ref, by="alice", outcome="confirmed", now=LATER, settings=Settings(), **call
    )


def test_an_email_change_from_another_address_needs_the_number_on_record_and_a_note(
    ready: TestDatabase, feed: Feed
) -> None:
    ref = _new(ready, feed, email_change(sender="someone.new@nhs.net"))
    refused = pytest.raises(VerificationRefused, match="say in the notes who")
    with refused, transaction(ready.sessions) as s:
        _confirm(s, ref)
    other = pytest.raises(VerificationRefused, match="only by calling the number on record")
    with other, transaction(ready.sessions) as s:
        _confirm(s, ref, phone="0113 496 0999", notes="the number they gave us")
    with transaction(ready.sessions) as s:
        _confirm(s, ref, notes="the practice manager, Ann Lee, confirmed the new address")
        assert approve(s, ref=ref, by="bob", now=LATER, settings=Settings()).state == "completed"


def test_approval_refuses_a_doubtful_email_change_confirmed_without_a_note(
    ready: TestDatabase, feed: Feed
) -> None:
    """A request verified before the rule (or by a path around it) still cannot be approved."""
    ref = _new(ready, feed, email_change(sender="someone.new@nhs.net"))
    with transaction(ready.sessions) as s:
        request = s.get(Request, int(ref[5:]))
        assert request is not None
        request.problems = []  # as if the doubt had not been known at the call
        _confirm(s, ref)
    with transaction(ready.sessions) as s:
        request = s.get(Request, int(ref[5:]))
        assert request is not None
        request.problems = [{"code": "sender_not_on_record", "field": None, "message": "x"}]
    refused = pytest.raises(WorkflowRefusal, match="needs a confirmed call to the number on record")
    with refused, transaction(ready.sessions) as s:
        approve(s, ref=ref, by="bob", now=LATER, settings=Settings())


def test_an_email_change_to_a_personal_mailbox_needs_a_note(
    ready: TestDatabase, feed: Feed
) -> None:
    personal = Problem("personal_nhsmail", "practice.new_email", "looks like a person's mailbox")
    parsed = email_change(new="jane.doe@nhs.net", problems=(personal,))
    ref = _new(ready, feed, parsed)
    refused = pytest.raises(VerificationRefused, match="personal mailbox")
    with refused, transaction(ready.sessions) as s:
        _confirm(s, ref)


def test_a_pharmacy_may_only_move_to_pharmacy_dot_its_own_ods_code(
    ready: TestDatabase, feed: Feed
) -> None:
    with transaction(ready.sessions) as s:
        s.add(
            Organisation(
                ods_code="FA123",
                name="Parkway Pharmacy",
                org_type="pharmacy",
                phone="+441134960123",
                email="parkway.pharmacy@nhs.net",
            )
        )
    sender = "parkway.pharmacy@nhs.net"
    for new, allowed in (("fa123.team@nhs.net", False), ("pharmacy.fa123@nhs.net", True)):
        parsed = email_change(
            sender=sender, code="FA123", name="Parkway Pharmacy", current=sender, new=new
        )
        ref = _verified(ready, feed, parsed)
        if allowed:
            with transaction(ready.sessions) as s:
                assert approve(s, ref=ref, by="bob", now=LATER, settings=Settings()).state == (
                    "completed"
                )
        else:
            refused = pytest.raises(WorkflowRefusal, match=r"pharmacy\.fa123@nhs\.net, the only")
            with refused, transaction(ready.sessions) as s:
                approve(s, ref=ref, by="bob", now=LATER, settings=Settings())
