"""Triage page: messages that are not requests, and dismiss / make a request / reprocess."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.models import HistoryEntry, InboundMessage
from tests.console.conftest import BOTH_BACKENDS, Console, csrf_of
from tests.console.seed import add_practice, record

QUESTION = """\
From: Oak Pharmacy <pharmacy.fa123@nhs.net>
To: pcse.datamanager@nhs.net
Subject: Question about supplies
Message-ID: <question@nhs.net>
Date: Mon, 23 Nov 2026 08:00:00 +0000
Content-Type: text/plain; charset=utf-8

Hello, where do we order more prescription pads from?
"""


@pytest.fixture
def message_id(console: Console) -> int:
    add_practice(console.database.sessions)
    console.add_staff("vera", "verifier")
    console.sign_in("vera")
    ref, message = record(console.database.sessions, QUESTION, now=console.clock())
    assert ref is None
    return message


def status_of(console: Console, message_id: int) -> str:
    with transaction(console.database.sessions) as session:
        row = session.get(InboundMessage, message_id)
        assert row is not None
        return row.status


def test_the_triage_list_shows_messages_that_are_not_requests(
    console: Console, message_id: int
) -> None:
    page = console.client.get("/triage")
    assert page.status_code == 200
    assert "Question about supplies" in page.text and f"/triage/{message_id}" in page.text
    item = console.client.get(f"/triage/{message_id}")
    assert "prescription pads" in item.text and "Make a request" in item.text


def test_dismiss_needs_a_note_and_is_audited(console: Console, message_id: int) -> None:
    token = csrf_of(console.client, "/triage")
    empty = console.client.post(f"/triage/{message_id}/dismiss", data={"csrf_token": token})
    assert empty.status_code == 409
    assert status_of(console, message_id) == "triage"
    done = console.client.post(
        f"/triage/{message_id}/dismiss",
        data={"csrf_token": token, "note": "supplies question: forwarded to the supplies team"},
    )
    assert done.status_code == 303
    assert status_of(console, message_id) == "dismissed"
    with transaction(console.database.sessions) as session:
        actors = session.scalars(
            select(HistoryEntry.actor).where(HistoryEntry.action == "message_dismissed")
        ).all()
    assert actors == ["vera"]
    assert "supplies question" not in console.client.get("/triage").text


@BOTH_BACKENDS
def test_make_a_request_of_a_kind_opens_its_request_page(console: Console, message_id: int) -> None:
    token = csrf_of(console.client, "/triage")
    response = console.client.post(
        f"/triage/{message_id}/make-request", data={"csrf_token": token, "kind": "email_change"}
    )
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/requests/PCSE-")
    assert status_of(console, message_id) == "request"
    assert console.client.get(location).status_code == 200


def test_make_request_refuses_a_kind_that_is_not_one(console: Console, message_id: int) -> None:
    token = csrf_of(console.client, "/triage")
    response = console.client.post(
        f"/triage/{message_id}/make-request", data={"csrf_token": token, "kind": "unknown"}
    )
    assert response.status_code == 409
    assert status_of(console, message_id) == "triage"


def test_reprocess_reads_the_message_again(console: Console, message_id: int) -> None:
    token = csrf_of(console.client, "/triage")
    response = console.client.post(f"/triage/{message_id}/reprocess", data={"csrf_token": token})
    assert response.status_code == 303
    with transaction(console.database.sessions) as session:
        actions = session.scalars(
            select(HistoryEntry.action).where(HistoryEntry.message_id == message_id)
        ).all()
    assert "message_reprocessed" in actions
    assert status_of(console, message_id) == "triage"  # still not a request: today's parser agrees


def test_an_unknown_message_is_404(console: Console, message_id: int) -> None:
    assert console.client.get("/triage/99999").status_code == 404
    token = csrf_of(console.client, "/triage")
    assert (
        console.client.post("/triage/99999/reprocess", data={"csrf_token": token}).status_code
        == 404
    )
