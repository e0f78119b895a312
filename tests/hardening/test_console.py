"""Battery section 5 (cases 51, 52): four eyes through a second session, and every refused
state change logged as a possible bypass attempt."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from pcse_intake.workflows.db import make_engine, make_sessionmaker
from pcse_intake.workflows.migrate import upgrade
from pcse_intake.workflows.models import HistoryEntry
from tests.conftest import TestDatabase
from tests.console.conftest import Console, cheap_argon2, make_console
from tests.console.seed import add_practice, email_change
from tests.console.test_requests import form, state_of

__all__ = ["cheap_argon2"]

SECURITY_LOG = "pcse_intake.console.security"


@pytest.fixture
def console(tmp_path: Path) -> Console:
    url = f"sqlite:///{tmp_path / 'console.db'}"
    engine = make_engine(url)
    upgrade(engine)
    made = make_console(TestDatabase(url, engine, make_sessionmaker(engine)))
    add_practice(made.database.sessions)
    for username, role in [("vera", "verifier"), ("alex", "approver"), ("april", "approver")]:
        made.add_staff(username, role)
    return made


def _refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == SECURITY_LOG]


def test_the_verifier_cannot_approve_from_a_second_session_either(console: Console) -> None:
    ref = email_change(console.database.sessions, now=console.clock())
    first = console.sign_in("alex")
    first.post(f"/requests/{ref}/calls", data={**form(first, ref), "outcome": "confirmed"})
    second = console.sign_in("alex", client=console.new_client())  # another tab, new session
    response = second.post(f"/requests/{ref}/approve", data=form(second, ref))
    assert response.status_code == 409 and "a different person" in response.text
    assert state_of(console, ref) == "verified"


def test_a_refused_state_change_is_logged_as_a_possible_bypass(
    console: Console, caplog: pytest.LogCaptureFixture
) -> None:
    ref = email_change(console.database.sessions, now=console.clock())
    approver = console.sign_in("alex")
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOG):
        skipped = approver.post(f"/requests/{ref}/approve", data=form(approver, ref))
        stale = form(approver, ref)  # the page as shown before the call below
        verifier = console.sign_in("vera", client=console.new_client())
        verifier.post(
            f"/requests/{ref}/calls", data={**form(verifier, ref), "outcome": "confirmed"}
        )
        replayed = approver.post(f"/requests/{ref}/reject", data={**stale, "reason": "x"})
    assert (skipped.status_code, replayed.status_code) == (409, 409)
    logged = _refusals(caplog)
    assert len(logged) == 2, logged
    assert "refused by the workflow" in logged[0] and "must be verified" in logged[0]
    assert "refused a stale form user='alex'" in logged[1] and "changed after" in replayed.text
    assert state_of(console, ref) == "verified"
    with console.database.sessions() as session:
        actions = session.scalars(select(HistoryEntry.action)).all()
    assert "approved" not in actions and "rejected" not in actions
