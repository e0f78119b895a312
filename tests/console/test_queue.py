"""The queue page and `workflows.queue`: filters, search, oldest first, ages, pagination."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from pcse_intake.workflows.db import transaction
from pcse_intake.workflows.models import Request
from pcse_intake.workflows.queue import QueueFilter, queue_page
from tests.console.conftest import BOTH_BACKENDS, START, Console


def add_request(
    sessions: sessionmaker[Session],
    *,
    days_old: float,
    state: str = "awaiting_verification",
    kind: str = "email_change",
    ods: str = "A12345",
    name: str = "Greenlane Surgery",
    sender: str = "greenlane.surgery@nhs.net",
    new_email: str = "greenlane.admin@nhs.net",
) -> str:
    received = START - timedelta(days=days_old)
    with transaction(sessions) as session:
        request = Request(
            kind=kind,
            state=state,
            ods_code=ods,
            practice_name=name,
            sender=sender,
            received_at=received,
            updated_at=received,
            awaiting_verification_since=received if state == "awaiting_verification" else None,
            fields={"practice": {"ods_code": ods, "name": name, "new_email": new_email}},
            missing=[],
            problems=[],
        )
        session.add(request)
        session.flush()
        return request.ref


@pytest.fixture
def three(console: Console) -> list[str]:
    sessions = console.database.sessions
    return [
        add_request(
            sessions, days_old=1, name="Oakwood Practice", ods="B12345", sender="oak@nhs.net"
        ),
        add_request(sessions, days_old=5, kind="branch_setup", state="verified"),
        add_request(sessions, days_old=3, state="completed", new_email="unique.one@nhs.net"),
    ]


def refs(console: Console, **filters: object) -> list[str]:
    with transaction(console.database.sessions) as session:
        return [row.ref for row in queue_page(session, filters=QueueFilter(**filters)).rows]  # type: ignore[arg-type]


def test_open_requests_oldest_first_by_default(console: Console, three: list[str]) -> None:
    assert refs(console) == [three[1], three[0]]  # completed is not open


@BOTH_BACKENDS
def test_filter_by_state_and_kind(console: Console, three: list[str]) -> None:
    assert refs(console, states=("completed",)) == [three[2]]
    assert refs(console, kind="branch_setup") == [three[1]]
    assert refs(console, states=("completed", "verified"), kind="email_change") == [three[2]]


@BOTH_BACKENDS
@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("PCSE-000001", [0]),
        ("pcse-1", [0]),
        ("b12345", [0]),
        ("oakwood", [0]),
        ("OAK@nhs.net", [0]),
        ("unique.one@", [2]),  # an address in the parsed fields
        ("100%_", []),  # LIKE wildcards are literal
    ],
)
def test_search_by_ref_ods_name_or_address(
    console: Console, three: list[str], search: str, expected: list[int]
) -> None:
    every_state = ("awaiting_verification", "verified", "completed")
    assert refs(console, search=search, states=every_state) == [three[i] for i in expected]


@BOTH_BACKENDS
def test_pages_of_fifty_with_a_total_and_counts(console: Console) -> None:
    for i in range(120):
        add_request(console.database.sessions, days_old=200 - i)
    with transaction(console.database.sessions) as session:
        third = queue_page(session, filters=QueueFilter(page=3))
        beyond = queue_page(session, filters=QueueFilter(page=99))
    assert (third.total, third.pages, len(third.rows)) == (120, 3, 20)
    assert third.counts == {"awaiting_verification": 120}
    assert beyond.page == 3  # a page past the end shows the last one


def test_queue_page_shows_age_and_wait_on_verification(console: Console, three: list[str]) -> None:
    console.add_staff("vera", "verifier")
    page = console.sign_in("vera").get("/").text
    assert three[0] in page and three[1] in page and three[2] not in page
    assert "1 day 0 h" in page  # the awaiting-verification one: age and wait
    assert "Oakwood Practice" in page and "B12345" in page


def test_queue_page_filters_from_the_query_string(console: Console, three: list[str]) -> None:
    console.add_staff("vera", "verifier")
    client = console.sign_in("vera")
    page = client.get("/", params={"state": ["completed"], "kind": "email_change"}).text
    assert three[2] in page and three[0] not in page
    assert 'value="completed" checked' in page
    searched = client.get("/", params={"q": "oakwood"}).text
    assert three[0] in searched and three[1] not in searched


def test_nonsense_filters_are_ignored_not_errors(console: Console, three: list[str]) -> None:
    console.add_staff("vera", "verifier")
    client = console.sign_in("vera")
    assert client.get("/", params={"state": ["'; drop table"], "kind": "<x>"}).status_code == 200
    assert client.get("/", params={"page": "0"}).status_code == 400
