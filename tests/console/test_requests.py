"""The request page and its decisions: call, approve (four eyes), reject, correct."""

from __future__ import annotations

import re
import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.models import (
    HistoryEntry,
    Organisation,
    OutboxMessage,
    Request,
    SignInAttempt,
    Staff,
)
from tests.conftest import CORPUS
from tests.console.conftest import BOTH_BACKENDS, PASSWORD, Console, csrf_of
from tests.console.seed import add_practice, email_change, record

UNVERIFIED = "Unverified \u2013 do not use"  # the label, with its en dash


def version_of(page_text: str) -> str:
    match = re.search(r'name="version" value="(\d+)"', page_text)
    assert match is not None, "the page offers no form for this person"
    return match.group(1)


def form(client, ref: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    page = client.get(f"/requests/{ref}")
    assert page.status_code == 200
    return {
        "csrf_token": csrf_of(client, f"/requests/{ref}"),
        "version": version_of(page.text),
        "password": PASSWORD,  # asked again at approval; other forms ignore it
    }


def state_of(console: Console, ref: str) -> str:
    with transaction(console.database.sessions) as session:
        request = session.get(Request, int(ref.split("-")[1]))
        assert request is not None
        return request.state


@pytest.fixture
def ref(console: Console) -> str:
    add_practice(console.database.sessions)
    for username, role in [("vera", "verifier"), ("alex", "approver"), ("april", "approver")]:
        console.add_staff(username, role)
    return email_change(console.database.sessions, now=console.clock())


def test_request_page_shows_fields_email_number_and_changes(console: Console, ref: str) -> None:
    console.sign_in("vera")
    page = console.client.get(f"/requests/{ref}")
    assert page.status_code == 200
    text = page.text
    assert "greenlane.admin@nhs.net" in text  # a parsed field
    assert "Please update our practice email address." in text  # the e-mail, as text
    assert "+441134960000" in text  # the number to call, from the records
    assert "greenlane.surgery@nhs.net" in text and "After approval" in text


def test_a_number_given_in_the_email_is_marked_unverified_beside_the_one_on_record(
    console: Console,
) -> None:
    console.add_staff("vera", "verifier")
    with transaction(console.database.sessions) as session:
        session.add(
            Organisation(
                ods_code="B83855", name="Thorpe Edge Surgery", org_type="gp", phone="+441134960000"
            )
        )
    ref, _ = record(
        console.database.sessions, (CORPUS / "001.eml").read_bytes(), now=console.clock()
    )
    assert ref is not None
    text = console.sign_in("vera").get(f"/requests/{ref}").text
    card = text[text.index("The number to call") :]
    on_record, from_email = card.index("+441134960000"), card.index("+441134960682")
    assert on_record < from_email
    assert UNVERIFIED in card[from_email : from_email + 200]
    # In the table of what was asked, the e-mail's number carries the same warning.
    start = text.index("What was asked")
    asked = text[start : text.index("The e-mail", start)]
    assert "+441134960682" in asked and UNVERIFIED in asked


def test_verifier_records_a_confirmed_call(console: Console, ref: str) -> None:
    client = console.sign_in("vera")
    response = client.post(
        f"/requests/{ref}/calls",
        data={
            **form(client, ref),
            "outcome": "confirmed",
            "notes": "spoke to the practice manager",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/requests/{ref}?notice=call_recorded"
    assert state_of(console, ref) == "verified"
    with transaction(console.database.sessions) as session:
        actions = session.scalars(select(HistoryEntry.actor + ":" + HistoryEntry.action)).all()
    assert "vera:call_confirmed" in actions


@BOTH_BACKENDS
def test_verifier_role_cannot_approve_even_by_posting_directly(console: Console, ref: str) -> None:
    client = console.sign_in("vera")
    client.post(f"/requests/{ref}/calls", data={**form(client, ref), "outcome": "confirmed"})
    page = client.get(f"/requests/{ref}")
    assert "Approve and change the records" not in page.text  # no button offered...
    response = client.post(f"/requests/{ref}/approve", data={**form(client, ref)})
    assert response.status_code == 403  # ...and the server refuses anyway
    assert state_of(console, ref) == "verified"


@BOTH_BACKENDS
def test_the_approver_who_verified_cannot_approve(console: Console, ref: str) -> None:
    client = console.sign_in("alex")
    client.post(f"/requests/{ref}/calls", data={**form(client, ref), "outcome": "confirmed"})
    response = client.post(f"/requests/{ref}/approve", data=form(client, ref))
    assert response.status_code == 409
    assert "a different person must approve it" in response.text
    assert state_of(console, ref) == "verified"


@BOTH_BACKENDS
def test_a_second_person_approves_and_the_confirmations_are_queued(
    console: Console, ref: str
) -> None:
    verifier = console.sign_in("vera")
    verifier.post(f"/requests/{ref}/calls", data={**form(verifier, ref), "outcome": "confirmed"})
    approver = console.sign_in("alex", client=console.new_client())
    response = approver.post(f"/requests/{ref}/approve", data=form(approver, ref))
    assert response.status_code == 303
    assert state_of(console, ref) == "completed"
    with transaction(console.database.sessions) as session:
        templates = session.scalars(select(OutboxMessage.template)).all()
    assert len(templates) > 1  # the acknowledgement, then the confirmation(s)
    page = approver.get(f"/requests/{ref}")
    assert "Approved by alex" in page.text


@BOTH_BACKENDS
def test_the_same_approval_posted_twice_changes_the_request_once(
    console: Console, ref: str
) -> None:
    verifier = console.sign_in("vera")
    verifier.post(f"/requests/{ref}/calls", data={**form(verifier, ref), "outcome": "confirmed"})
    approver = console.sign_in("alex", client=console.new_client())
    data = form(approver, ref)
    assert approver.post(f"/requests/{ref}/approve", data=data).status_code == 303
    with transaction(console.database.sessions) as session:
        before = len(session.scalars(select(OutboxMessage.id)).all())
    again = approver.post(f"/requests/{ref}/approve", data=data)
    assert again.status_code == 409
    assert "changed after this page was shown" in again.text
    with transaction(console.database.sessions) as session:
        assert len(session.scalars(select(OutboxMessage.id)).all()) == before
        approvals = session.scalars(
            select(HistoryEntry).where(HistoryEntry.action == "approved")
        ).all()
    assert len(approvals) == 1


def test_approving_an_unverified_request_is_refused(console: Console, ref: str) -> None:
    client = console.sign_in("alex")
    response = client.post(f"/requests/{ref}/approve", data=form(client, ref))
    assert response.status_code == 409
    assert "must be verified" in response.text
    assert state_of(console, ref) == "awaiting_verification"


def test_approve_by_get_is_not_allowed(console: Console, ref: str) -> None:
    client = console.sign_in("alex")
    assert client.get(f"/requests/{ref}/approve").status_code == 405


def test_reject_needs_a_reason_and_then_closes_the_request(console: Console, ref: str) -> None:
    client = console.sign_in("alex")
    empty = client.post(f"/requests/{ref}/reject", data={**form(client, ref), "reason": "  "})
    assert empty.status_code == 409
    assert state_of(console, ref) == "awaiting_verification"
    done = client.post(
        f"/requests/{ref}/reject",
        data={**form(client, ref), "reason": "The practice did not ask for this."},
    )
    assert done.status_code == 303
    assert state_of(console, ref) == "rejected"


def test_a_verifier_may_not_reject(console: Console, ref: str) -> None:
    client = console.sign_in("vera")
    response = client.post(f"/requests/{ref}/reject", data={**form(client, ref), "reason": "no"})
    assert response.status_code == 403
    assert state_of(console, ref) == "awaiting_verification"


@BOTH_BACKENDS
def test_a_correction_is_audited_and_bars_the_corrector_from_approving(
    console: Console, ref: str
) -> None:
    alex = console.sign_in("alex")
    response = alex.post(
        f"/requests/{ref}/corrections",
        data={
            **form(alex, ref),
            "path": "practice.new_email",
            "value": "greenlane.practice@nhs.net",
            "note": "typo in the e-mail",
        },
    )
    assert response.status_code == 303
    page = alex.get(f"/requests/{ref}")
    assert "greenlane.practice@nhs.net" in page.text and "typo in the e-mail" in page.text
    vera = console.sign_in("vera", client=console.new_client())
    vera.post(f"/requests/{ref}/calls", data={**form(vera, ref), "outcome": "confirmed"})
    refused = alex.post(f"/requests/{ref}/approve", data=form(alex, ref))
    assert refused.status_code == 409
    assert "alex corrected" in refused.text
    april = console.sign_in("april", client=console.new_client())
    assert april.post(f"/requests/{ref}/approve", data=form(april, ref)).status_code == 303


def test_an_unknown_reference_is_404(console: Console, ref: str) -> None:
    client = console.sign_in("vera")
    assert client.get("/requests/PCSE-999999").status_code == 404
    assert client.get("/requests/not-a-ref").status_code == 404


def verified_by_vera(console: Console, ref: str) -> None:
    vera = console.sign_in("vera", client=console.new_client())
    vera.post(f"/requests/{ref}/calls", data={**form(vera, ref), "outcome": "confirmed"})
    assert state_of(console, ref) == "verified"


def test_approval_asks_for_the_password_again(console: Console, ref: str) -> None:
    verified_by_vera(console, ref)
    alex = console.sign_in("alex")
    for wrong in ("", "Not-my-password-1!"):
        response = alex.post(
            f"/requests/{ref}/approve", data={**form(alex, ref), "password": wrong}
        )
        assert response.status_code == 403
        assert "password was not correct" in response.text
    assert state_of(console, ref) == "verified"
    with transaction(console.database.sessions) as session:
        outcomes = session.scalars(select(SignInAttempt.outcome)).all()
    assert outcomes.count("wrong_password") == 2
    assert alex.post(f"/requests/{ref}/approve", data=form(alex, ref)).status_code == 303


@BOTH_BACKENDS
def test_five_wrong_passwords_at_approval_lock_the_account_and_end_the_session(
    console: Console, ref: str
) -> None:
    verified_by_vera(console, ref)
    alex = console.sign_in("alex")
    statuses = [
        alex.post(
            f"/requests/{ref}/approve", data={**form(alex, ref), "password": f"Guess-{i}!"}
        ).status_code
        for i in range(5)
    ]
    assert statuses == [403] * 5
    assert alex.get("/").status_code == 401  # signed out
    assert state_of(console, ref) == "verified"
    with transaction(console.database.sessions) as session:
        staff = session.scalars(select(Staff).where(Staff.username == "alex")).one()
        assert staff.locked


@BOTH_BACKENDS
def test_two_approvers_at_the_same_moment_give_one_approval(console: Console, ref: str) -> None:
    verified_by_vera(console, ref)
    alex = console.sign_in("alex")
    april = console.sign_in("april", client=console.new_client())
    forms = {"alex": form(alex, ref), "april": form(april, ref)}
    start = threading.Barrier(2)
    statuses: dict[str, int] = {}

    def approve(name: str, client: TestClient) -> None:
        start.wait()
        statuses[name] = client.post(f"/requests/{ref}/approve", data=forms[name]).status_code

    threads = [
        threading.Thread(target=approve, args=("alex", alex)),
        threading.Thread(target=approve, args=("april", april)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses.values()) == [303, 409]
    with transaction(console.database.sessions) as session:
        approvals = session.scalars(
            select(HistoryEntry).where(HistoryEntry.action == "approved")
        ).all()
    assert len(approvals) == 1


@BOTH_BACKENDS
def test_an_approver_cancels_a_waiting_email_change_with_a_reason(
    console: Console, ref: str
) -> None:
    verifier = console.sign_in("vera")
    verifier.post(f"/requests/{ref}/calls", data={**form(verifier, ref), "outcome": "confirmed"})
    approver = console.sign_in("alex", client=console.new_client())
    assert approver.post(f"/requests/{ref}/approve", data=form(approver, ref)).status_code == 303
    page = approver.get(f"/requests/{ref}").text
    assert "Takes effect at 09:00 UTC on 24 November 2026 unless stopped" in page
    assert "Cancel the e-mail change" in page
    assert "Cancel the e-mail change" not in verifier.get(f"/requests/{ref}").text
    own = {**form(approver, ref), "csrf_token": csrf_of(verifier, f"/requests/{ref}")}
    refused = verifier.post(f"/requests/{ref}/cancel-change", data={**own, "reason": "x"})
    assert refused.status_code == 403  # the server checks the role, not only the page
    assert "Your role (verifier) does not allow" in refused.text
    empty = approver.post(f"/requests/{ref}/cancel-change", data={**form(approver, ref)})
    assert empty.status_code == 409 and "needs a reason" in empty.text
    assert state_of(console, ref) == "completed"
    data = {**form(approver, ref), "reason": "The practice phoned: they did not ask for this."}
    done = approver.post(f"/requests/{ref}/cancel-change", data=data, follow_redirects=True)
    assert "The e-mail change has been cancelled before it took effect" in done.text
    assert state_of(console, ref) == "cancelled"
    page = approver.get(f"/requests/{ref}").text
    assert "Cancelled at 09:00 UTC on 23 November 2026 by alex" in page
    assert "Cancel the e-mail change" not in page
    with transaction(console.database.sessions) as session:
        org = session.scalars(select(Organisation).where(Organisation.ods_code == "A12345")).one()
        assert org.email == "greenlane.surgery@nhs.net"
